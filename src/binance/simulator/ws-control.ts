/**
 * Live control messages of a stream connection (BINANCE.md 2.3, fixtures ws_control_messages.json
 * and subscribe_response.json): SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and
 * GET_PROPERTY, with `{"result":null,"id":…}` replies and the documented error table.
 *
 * Errors are written flat, `{"code":2,"msg":"…","id":1}`, as the docs' table shows them; community
 * reports show the live server wrapping them (`{"error":{"code":2,"msg":"…"},"id":1}`), which
 * `wrapErrors` reproduces. An unknown stream name is accepted and simply never fed.
 */

export type RequestId = number | string | null;

/** The connection state a control message reads and changes. */
export interface ControlSession {
  streams(): readonly string[];
  combined(): boolean;
  setCombined(value: boolean): void;
  /** Adds streams; false when that would pass the per-connection stream cap. */
  subscribe(names: readonly string[]): boolean;
  unsubscribe(names: readonly string[]): void;
}

export type ControlOutcome =
  | { readonly kind: 'reply'; readonly text: string }
  /** SUBSCRIBE would exceed the stream cap: the connection is closed. */
  | { readonly kind: 'tooManyStreams' };

const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'] as const;
type Method = (typeof METHODS)[number];
const ID_TEXT_PATTERN = /^[A-Za-z0-9_-]{1,36}$/;
const INT64_LIMIT = 2 ** 63;
const PROPERTY_COMBINED = 'combined';

class TooManyStreams extends Error {}

class ControlError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function lineAndColumn(text: string, index: number): string {
  const before = text.slice(0, Math.max(0, index));
  const line = before.split('\n').length;
  return `line ${line} column ${index - before.lastIndexOf('\n')}`;
}

/** Where JSON.parse gave up, in serde's "line L column C" words (BINANCE.md 2.3, code 3). */
function jsonErrorPosition(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const position = /position (\d+)/.exec(message);
  if (position) return lineAndColumn(text, Number(position[1]));
  if (message.includes('end of JSON input')) return lineAndColumn(text, text.length);
  // V8 names the unexpected token without a position: it is the first significant character.
  return lineAndColumn(text, text.length - text.trimStart().length);
}

function isRequestId(value: unknown): value is RequestId {
  if (value === null) return true;
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < INT64_LIMIT;
  return typeof value === 'string' && ID_TEXT_PATTERN.test(value);
}

function isMethod(value: string): value is Method {
  return (METHODS as readonly string[]).includes(value);
}

/** An error reply (BINANCE.md 2.3): flat, or wrapped in `error` when `wrap`; with `id` when given. */
export function controlErrorText(
  code: number,
  msg: string,
  id: RequestId | undefined,
  wrap: boolean,
): string {
  const body = wrap ? { error: { code, msg } } : { code, msg };
  return JSON.stringify(id === undefined ? body : { ...body, id });
}

function stringList(params: unknown): string[] {
  if (!Array.isArray(params)) throw new ControlError(2, 'Invalid request: missing field `params`');
  return (params as unknown[]).map((entry) => {
    if (typeof entry !== 'string')
      throw new ControlError(2, 'Invalid request: invalid type, expected a string');
    return entry;
  });
}

function propertyName(params: unknown[], expectedLength: number): string {
  if (params.length > expectedLength) throw new ControlError(2, 'Invalid request: too many parameters');
  const name = params[0];
  if (typeof name !== 'string') throw new ControlError(2, 'Invalid request: property name must be a string');
  if (name !== PROPERTY_COMBINED) throw new ControlError(0, 'Unknown property');
  return name;
}

function run(method: Method, params: unknown, session: ControlSession): unknown {
  const list: unknown[] = Array.isArray(params) ? (params as unknown[]) : [];
  switch (method) {
    case 'SUBSCRIBE':
      if (!session.subscribe(stringList(params))) throw new TooManyStreams();
      return null;
    case 'UNSUBSCRIBE':
      session.unsubscribe(stringList(params));
      return null;
    case 'LIST_SUBSCRIPTIONS':
      if (list.length > 0) throw new ControlError(2, 'Invalid request: too many parameters');
      return [...session.streams()];
    case 'SET_PROPERTY': {
      propertyName(list, 2);
      const value = list[1];
      if (typeof value !== 'boolean') throw new ControlError(1, 'Invalid value type: expected Boolean');
      session.setCombined(value);
      return null;
    }
    case 'GET_PROPERTY':
      propertyName(list, 1);
      return session.combined();
  }
}

/** Handles one text frame from the client. */
export function handleControlMessage(
  text: string,
  session: ControlSession,
  wrapErrors = false,
): ControlOutcome {
  const fail = (code: number, msg: string, id?: RequestId): ControlOutcome => ({
    kind: 'reply',
    text: controlErrorText(code, msg, id, wrapErrors),
  });
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (error) {
    return fail(3, `Invalid JSON: expected value at ${jsonErrorPosition(text, error)}`);
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return fail(
      2,
      `Invalid request: invalid type, expected struct Request at ${lineAndColumn(text, text.length)}`,
    );
  }
  const fields = request as Record<string, unknown>;
  const method = fields.method;
  if (method === undefined) {
    return fail(2, `Invalid request: missing field \`method\` at ${lineAndColumn(text, text.length)}`);
  }
  if (typeof method !== 'string' || !isMethod(method)) {
    const where = /"method"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]*)/.exec(text);
    const column = where ? where.index + where[0].length : text.length;
    const list = METHODS.map((m) => `\`${m}\``).join(', ');
    return fail(
      2,
      `Invalid request: unknown variant ${typeof method === 'string' ? `\`${method}\`` : JSON.stringify(method)}, expected one of ${list} at ${lineAndColumn(text, column)}`,
    );
  }
  if (!('id' in fields) || !isRequestId(fields.id)) {
    return fail(2, 'Invalid request: request ID must be an unsigned integer');
  }
  const id = fields.id;
  try {
    const result = run(method, fields.params, session);
    return { kind: 'reply', text: JSON.stringify({ result, id }) };
  } catch (error) {
    if (error instanceof TooManyStreams) return { kind: 'tooManyStreams' };
    if (error instanceof ControlError) return fail(error.code, error.message, id);
    throw error;
  }
}
