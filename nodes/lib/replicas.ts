// Replica followers running in this runtime, for the sidebar.
import type { FollowerView, ReplicaFollower } from '../../lib/replica';

const running = new Set<ReplicaFollower>();

export const addReplica = (f: ReplicaFollower): void => void running.add(f);
export const removeReplica = (f: ReplicaFollower): void => void running.delete(f);
export const replicaViews = (): FollowerView[] => [...running].map((f) => f.view());
