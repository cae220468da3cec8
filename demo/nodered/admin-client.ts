import type { AdminCredentials } from './settings';

/** One entry of GET /nodes: a node set (one file) and the node types it registered. */
export interface NodeSetInfo {
  id: string;
  name: string;
  module: string;
  version?: string;
  types: string[];
  enabled: boolean;
  local?: boolean;
  user?: boolean;
  err?: string;
}

export interface FlowsResponse {
  rev: string;
  flows: unknown[];
}

export type DeploymentType = 'full' | 'nodes' | 'flows' | 'reload';

/** An HTTP error from the admin API, with the status and the body Node-RED sent. */
export class AdminApiError extends Error {
  readonly status: number;
  readonly body: string;

  constructor(method: string, url: string, status: number, body: string) {
    super(`${method} ${url} answered ${status}: ${body.slice(0, 500)}`);
    this.name = 'AdminApiError';
    this.status = status;
    this.body = body;
  }
}

/** A small client for the Node-RED admin HTTP API (https://nodered.org/docs/api/admin/methods/). */
export class AdminClient {
  readonly baseUrl: string;
  private readonly credentials?: AdminCredentials;
  private token?: string;

  /** `baseUrl` like http://127.0.0.1:1880 (the httpAdminRoot, no trailing slash needed). */
  constructor(baseUrl: string, credentials?: AdminCredentials) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.credentials = credentials;
  }

  /** Gets an access token with the admin credentials (POST /auth/token). */
  async login(): Promise<void> {
    if (!this.credentials) throw new Error('no admin credentials to log in with');
    const res = await this.raw('POST', '/auth/token', {
      client_id: 'node-red-admin',
      grant_type: 'password',
      scope: '*',
      username: this.credentials.username,
      password: this.credentials.password,
    });
    const body = await res.text();
    if (res.status !== 200) throw new AdminApiError('POST', `${this.baseUrl}/auth/token`, res.status, body);
    this.token = (JSON.parse(body) as { access_token: string }).access_token;
  }

  /** Sends a request without logging in first and without checking the status. */
  async raw(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const h: Record<string, string> = { Accept: 'application/json', ...headers };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    return fetch(`${this.baseUrl}${urlPath}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  }

  /** Sends a request (logging in first when credentials are set) and parses the JSON answer. */
  async request<T>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    if (this.credentials && !this.token) await this.login();
    const res = await this.raw(method, urlPath, body, headers);
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new AdminApiError(method, `${this.baseUrl}${urlPath}`, res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  getSettings(): Promise<Record<string, unknown>> {
    return this.request('GET', '/settings');
  }

  /** Every node set the runtime knows, with its types, enabled flag and load error if any. */
  getNodes(): Promise<NodeSetInfo[]> {
    return this.request('GET', '/nodes');
  }

  getFlows(): Promise<FlowsResponse> {
    return this.request('GET', '/flows', undefined, { 'Node-RED-API-Version': 'v2' });
  }

  /** Deploys `flows` (a full flow export) and returns the new revision. */
  async deployFlows(flows: unknown[], type: DeploymentType = 'full'): Promise<string> {
    const res = await this.request<{ rev: string }>(
      'POST',
      '/flows',
      { flows },
      { 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': type },
    );
    return res.rev;
  }
}
