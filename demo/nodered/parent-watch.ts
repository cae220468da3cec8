/**
 * Preloaded (`node --require`) into a child Node-RED. The parent holds the other
 * end of the child's stdin; when the parent dies, even by SIGKILL, stdin ends
 * and the child stops itself gracefully instead of lingering with its port and
 * ledger lock.
 */
import { isMainThread } from 'node:worker_threads';

// Worker threads inherit the preload; their stdin is not the parent's.
if (isMainThread) {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.resume();
}
