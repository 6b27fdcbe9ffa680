/** Protocol version negotiation (PROTOCOL.md §5.1). */
import { FcpError } from '../errors';

export interface VersionRange { min: number; max: number }

/** The version both speak, or undefined when the ranges do not meet. */
export function commonVersion(client: VersionRange, server: VersionRange): number | undefined {
  const version = Math.min(client.max, server.max);
  return version >= Math.max(client.min, server.min) ? version : undefined;
}

export function versionMismatch(client: VersionRange, server: VersionRange): FcpError {
  return new FcpError(
    'FCP_ERR_VERSION',
    `fcp client speaks protocol versions ${client.min}..${client.max}, server speaks ${server.min}..${server.max}`,
    { hint: 'install the same fcp release on both hosts (fcp --version, fcpd --version)' },
  );
}
