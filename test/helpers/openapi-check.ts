/**
 * Holds every answer of a test app to its OpenAPI document: an answer with a status its route does
 * not list, or a body its schema refuses, fails the test that asked for it (checked after each
 * test by test/setup.ts). Responses are written with JSON.stringify, not through their schemas
 * (build-app.ts), so this is what keeps the document true to what clients get.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

interface Operation {
  readonly responses?: Record<
    string,
    { readonly content?: Record<string, { readonly schema?: object } | undefined> } | undefined
  >;
}

interface Document {
  readonly paths?: Record<string, Record<string, Operation | undefined> | undefined>;
  readonly components?: object;
}

const violations: string[] = [];

/** Fails the test that just ran when one of its answers differed (test/setup.ts, after each test). */
export function expectAnswersAsDocumented(): void {
  const found = violations.splice(0);
  expect(found, 'answers that differ from the OpenAPI document').toEqual([]);
}

/**
 * What is wrong with an answer of `status` with `body` (JSON text) from `route` (`/api/v1/x/{name}`)
 * by `method`, as `document` describes it: undefined when it matches, or when the route documents
 * no answers (/docs itself, /metrics).
 */
type AnswerCheck = (method: string, route: string, status: number, body: string) => string | undefined;

function answerChecker(document: Document): AnswerCheck {
  const validators = new Map<string, ValidateFunction>();
  // strict: false, for the document's own keywords (description is fine, but also e.g. `example`).
  const ajv = new Ajv2020({ strict: false });
  return (method, route, status, body) => {
    const responses = document.paths?.[route]?.[method.toLowerCase()]?.responses;
    if (!responses || !Object.values(responses).some((response) => response?.content)) return undefined;
    const schema = responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema) return "a status its route's documentation does not list";
    const key = `${method} ${route} ${status}`;
    let validate = validators.get(key);
    if (!validate) {
      // The components go along, so `#/components/schemas/…` resolves inside the compiled schema.
      validate = ajv.compile({ ...schema, components: document.components });
      validators.set(key, validate);
    }
    return validate(JSON.parse(body))
      ? undefined
      : `${ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`;
  };
}

/** Checks each answer of `app` against its route's documented responses, from now on. */
export function checkAnswersAgainstDocument(app: FastifyInstance): void {
  let check: AnswerCheck | undefined;
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if (route === undefined) return payload; // no route: the not-found answer
    // Only JSON text is documented; a stream (the docs' files) has no schema to meet.
    if (typeof payload !== 'string') return payload;
    check ??= answerChecker(app.swagger() as Document);
    const problem = check(request.method, route.replace(/:(\w+)/g, '{$1}'), reply.statusCode, payload);
    if (problem !== undefined) {
      violations.push(`${request.method} ${request.url} answered ${reply.statusCode}: ${problem}`);
    }
    return payload;
  });
}

/**
 * Asks a running service (`baseUrl`) for `path` and checks the answer against the OpenAPI document
 * it serves: for the process-level tests, whose instances have parts a test app lacks (Redis, a
 * live link, a standby's idle one).
 */
export async function documentedProblem(baseUrl: string, path: string): Promise<string | undefined> {
  const document = (await (await fetch(`${baseUrl}/docs/json`)).json()) as Document;
  const answer = await fetch(`${baseUrl}${path}`);
  return answerChecker(document)('GET', path, answer.status, await answer.text());
}
