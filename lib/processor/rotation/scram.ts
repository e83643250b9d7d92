import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'crypto';

/** PostgreSQL's own iteration count for SCRAM-SHA-256 verifiers (scram_iterations' default). */
export const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password, in its own text form
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64), so that `ALTER ROLE ... PASSWORD '<verifier>'`
 * sets the password without the clear text ever being in SQL. pgaudit writes `<REDACTED>` for the password of a
 * ROLE statement, but PostgreSQL itself logs a statement that fails in full (log_min_error_statement), outside
 * pgaudit (https://github.com/pgaudit/pgaudit/issues/189): with a verifier, that line holds a salted hash only. PostgreSQL stores a value in this form as the verifier itself
 * (https://www.postgresql.org/docs/16/sql-createrole.html, "PASSWORD"; https://www.postgresql.org/docs/16/catalog-pg-authid.html).
 * RFC 5802 section 3 and RFC 7677: SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i), ClientKey =
 * HMAC(SaltedPassword, "Client Key"), StoredKey = SHA-256(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key").
 *
 * PostgreSQL applies SASLprep to the password before hashing; for printable ASCII without spaces (what the rotation
 * generates) SASLprep changes nothing, and anything else is refused here rather than hashed differently.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  if (!/^[\x21-\x7e]+$/.test(password))
    throw new Error('a SCRAM verifier is computed here only for printable ASCII passwords without spaces');
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
