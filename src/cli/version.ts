/** fcp's release and protocol versions, for --version on both commands. */
import { packageVersion } from '../launch/packageRoot';
import { VERSION_RANGE } from '../protocol/constants';

export function version(): string {
  return `${packageVersion()} (protocol ${VERSION_RANGE.min}..${VERSION_RANGE.max})`;
}
