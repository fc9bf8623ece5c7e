/** Request size limits, shared by the app (build-app.ts) and the answers it documents (responses.ts). */

/** Largest request body accepted, in bytes (larger gets 413). */
export const MAX_BODY_BYTES = 64 * 1024;
/** Longest path segment the router accepts, in characters (longer gets 414); Fastify's default. */
export const MAX_PATH_PARAM_CHARS = 100;
