// Minimal Express shapes for the admin endpoints (Node-RED passes Express objects).
export interface Request {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body?: unknown;
}
export interface Response {
  json(body: unknown): void;
  status(code: number): Response;
}
export type NextFunction = (err?: unknown) => void;
