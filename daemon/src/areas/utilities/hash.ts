import { createHash } from 'node:crypto'
import { defineTool } from '@arw/registry'
import Type from 'typebox'

const ALGORITHMS = ['sha256', 'sha384', 'sha512', 'sha1', 'md5'] as const

/** Content hashing, e.g. to check a download or derive a cache key without shipping the bytes back. */
export const hashDigest = defineTool({
  name: 'hash.digest',
  version: '1.0.0',
  title: 'Hash text',
  description:
    'Computes a cryptographic digest of `text` (UTF-8) or, when no text is given, of the base64-encoded bytes in `base64` (neither: the empty input). sha1 and md5 are offered for checking legacy checksums only.',
  input: Type.Object(
    {
      text: Type.Optional(Type.String({ maxLength: 1_000_000, description: 'Text to hash, as UTF-8.' })),
      base64: Type.Optional(
        Type.String({
          maxLength: 1_400_000,
          pattern: '^[A-Za-z0-9+/]*={0,2}$',
          description: 'Bytes to hash, base64.',
        }),
      ),
      algorithm: Type.Optional(
        Type.Union(
          ALGORITHMS.map((a) => Type.Literal(a)),
          { default: 'sha256' },
        ),
      ),
      encoding: Type.Optional(
        Type.Union([Type.Literal('hex'), Type.Literal('base64'), Type.Literal('base64url')], {
          default: 'hex',
        }),
      ),
    },
    // No rule across the two fields: 1.0.0 is released with this schema, and a handler checks
    // nothing its schema does not say, so the description says which one is hashed.
    { additionalProperties: false },
  ),
  output: Type.Object(
    {
      algorithm: Type.String(),
      encoding: Type.String(),
      digest: Type.String(),
      bytes: Type.Integer({ minimum: 0, description: 'Length of the hashed input in bytes.' }),
    },
    { additionalProperties: false },
  ),
  errors: ['validation_failed'],
  hints: { readOnly: true, idempotent: true, openWorld: false },
  capabilities: ['crypto'],
  timeoutMs: 5000,
  examples: [
    {
      title: 'SHA-256 of a text, hex',
      input: { text: 'hello' },
      output: {
        algorithm: 'sha256',
        encoding: 'hex',
        digest: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
        bytes: 5,
      },
    },
    {
      title: 'SHA-256 of base64 bytes, base64url',
      input: { base64: 'aGVsbG8=', encoding: 'base64url' },
      output: {
        algorithm: 'sha256',
        encoding: 'base64url',
        digest: 'LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ',
        bytes: 5,
      },
    },
  ],
  handler: (input) => {
    const data =
      input.text !== undefined ? Buffer.from(input.text, 'utf8') : Buffer.from(input.base64 ?? '', 'base64')
    const algorithm = input.algorithm ?? 'sha256'
    const encoding = input.encoding ?? 'hex'
    return {
      algorithm,
      encoding,
      digest: createHash(algorithm).update(data).digest(encoding),
      bytes: data.length,
    }
  },
})
