/** The commands' last error line: one line for what the machine around them reports, a stack for a bug. */
import { describe, expect, it } from 'vitest';
import { describeFatal } from './run-cli.js';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('describeFatal', () => {
  it('says in one line what the system, SQLite or a PostgreSQL connection reports', () => {
    expect(describeFatal(coded('file is not a database', 'SQLITE_NOTADB'))).toBe(
      'file is not a database (SQLITE_NOTADB)',
    );
    expect(describeFatal(coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toMatch(/^connect/);
    expect(describeFatal(coded('password authentication failed', '28P01'))).not.toMatch(/\n\s+at /);
  });

  it("keeps the stack of a bug's error, even with a code", () => {
    for (const code of ['ERR_INVALID_ARG_TYPE', 'SQLITE_ERROR', '42601']) {
      expect(describeFatal(coded('a bug', code)), code).toMatch(/\n\s+at /);
    }
    expect(describeFatal(new TypeError('x is undefined'))).toMatch(/\n\s+at /);
  });
});
