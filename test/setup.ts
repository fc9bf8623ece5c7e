/** Runs before every test file (vitest.config.ts setupFiles). */
import { afterEach } from 'vitest';
import { expectAnswersAsDocumented } from './helpers/openapi-check.js';

afterEach(expectAnswersAsDocumented);
