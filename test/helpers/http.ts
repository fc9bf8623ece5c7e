/** Calls the app with `inject()`: JSON bodies, bearer tokens and a chosen client IP, answering the parsed envelope. */
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../src/http/build-app.js';

export const API = API_PREFIX;

export interface Envelope<T = unknown> {
  success: boolean;
  statusCode: number;
  message: string;
  data: T;
  errorSources?: { path: string; message: string }[];
}

export interface PublicUserJson {
  id: string;
  name: string;
  email: string;
  role: 'user' | 'admin';
  createdAt: number;
}

export interface SessionJson {
  accessToken: string;
  user: PublicUserJson;
}

export interface CallOptions {
  /** An object is sent as JSON; a string is sent as it is, with content-type application/json. */
  readonly body?: unknown;
  readonly token?: string;
  /** The client's address (rate limits count per IP). */
  readonly ip?: string;
  readonly headers?: Record<string, string>;
}

export interface Answer<T> {
  readonly status: number;
  readonly body: Envelope<T>;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly text: string;
}

export async function call<T = unknown>(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PATCH' | 'OPTIONS',
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await app.inject({
    method,
    url: path.startsWith('/') && !path.startsWith(API) && !path.startsWith('/docs') ? `${API}${path}` : path,
    headers,
    ...(payload === undefined ? {} : { payload }),
    remoteAddress: options.ip ?? '127.0.0.1',
  });
  const text = response.body;
  let body = {} as Envelope<T>;
  try {
    body = JSON.parse(text) as Envelope<T>;
  } catch {
    // not JSON (docs pages, empty preflight answers)
  }
  return { status: response.statusCode, body, headers: response.headers, text };
}

let counter = 0;

/** Registers a fresh account (unique email unless given) and answers its session. */
export async function registerUser(
  app: FastifyInstance,
  overrides: { name?: string; email?: string; password?: string; ip?: string } = {},
): Promise<SessionJson & { password: string }> {
  counter++;
  const password = overrides.password ?? `password-${counter}-long-enough`;
  const answer = await call<SessionJson>(app, 'POST', '/users/register', {
    body: {
      name: overrides.name ?? `User ${counter}`,
      email: overrides.email ?? `user${counter}@example.com`,
      password,
    },
    ip: overrides.ip ?? `10.1.${Math.floor(counter / 250)}.${counter % 250}`,
  });
  if (answer.status !== 201) throw new Error(`registration failed: ${answer.status} ${answer.text}`);
  return { ...answer.body.data, password };
}

export async function login(
  app: FastifyInstance,
  email: string,
  password: string,
  ip = '10.2.0.1',
): Promise<Answer<SessionJson>> {
  return call<SessionJson>(app, 'POST', '/users/login', { body: { email, password }, ip });
}
