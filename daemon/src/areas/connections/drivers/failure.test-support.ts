import { expect } from 'vitest'
import { UpstreamError } from '../driver.ts'

/** The UpstreamError a driver call rejects with (the test fails if it resolves or throws anything else). */
export async function upstreamFailure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(UpstreamError)
  return error as UpstreamError
}
