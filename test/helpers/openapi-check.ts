/**
 * Holds every answer of a test app to its OpenAPI document: an answer with a status its route does
 * not list, or a body its schema refuses, fails the test that asked for it (checked after each
 * test by test/setup.ts). Responses are written with JSON.stringify, not through their schemas (build-app.ts), so
 * this is what keeps the document true to what clients get.
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

/** Checks each answer of `app` against its route's documented responses, from now on. */
export function checkAnswersAgainstDocument(app: FastifyInstance): void {
  let document: Document | undefined;
  const validators = new Map<string, ValidateFunction>();
  // strict: false, for the document's own keywords (description is fine, but also e.g. `example`).
  const ajv = new Ajv2020({ strict: false });

  const validatorFor = (key: string, schema: object): ValidateFunction => {
    let validate = validators.get(key);
    if (!validate) {
      // The components go along, so `#/components/schemas/…` resolves inside the compiled schema.
      validate = ajv.compile({ ...schema, components: document?.components });
      validators.set(key, validate);
    }
    return validate;
  };

  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if (route === undefined) return payload; // no route: the not-found answer
    document ??= app.swagger() as Document;
    const path = route.replace(/:(\w+)/g, '{$1}');
    const operation = document.paths?.[path]?.[request.method.toLowerCase()];
    const responses = operation?.responses;
    // Only routes that document their answers: not /docs itself, /metrics or Socket.IO.
    if (!responses || !Object.values(responses).some((response) => response?.content)) return payload;
    const status = String(reply.statusCode);
    const where = `${request.method} ${request.url} answered ${status}`;
    const schema = responses[status]?.content?.['application/json']?.schema;
    if (!schema) {
      violations.push(`${where}, which its route's documentation does not list`);
      return payload;
    }
    if (typeof payload !== 'string') {
      violations.push(`${where} with a body that is not JSON text`);
      return payload;
    }
    const validate = validatorFor(`${request.method} ${path} ${status}`, schema);
    if (!validate(JSON.parse(payload))) {
      violations.push(`${where}: ${ajv.errorsText(validate.errors)} in ${payload.slice(0, 300)}`);
    }
    return payload;
  });
}
