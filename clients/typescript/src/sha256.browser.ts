/** Browsers: the SDK's own SHA-256 (Web Crypto). See sha256.ts. */
export { Sha256 } from '@smithy/core/checksum';
