/**
 * The rules of TWO_WAY_SCOPE (PROTOCOL.md §7.12, more features TWO_WAY_NARROW and TWO_WAY_SWEEP),
 * pure: how fcp asks a side's fcpd for a listing, given the parts of the second feature word both
 * agreed on (an older fcpd lacks some), and which scope messages each end refuses. remoteSide.ts
 * (fcp) and server/twoWaySideService.ts (fcpd) act on them.
 */
import { FcpError } from '../errors';
import { Feature, MoreFeature, TwoWayScopeEvent } from '../protocol/constants';
import { SWEEP_SLICES } from './constants';

/** What a side's session agreed on: narrowed listings (TWO_WAY_NARROW, with TWO_WAY_TREE), and sweeps in them (TWO_WAY_SWEEP, with narrowed listings). */
export interface ScopeParts {
  narrow: boolean;
  sweep: boolean;
}

/** The scope parts a session's agreed feature words give (PARAMS.features and more_features). */
export function agreedScopeParts(features: number, moreFeatures = 0): ScopeParts {
  const narrow = (features & Feature.TWO_WAY_TREE) !== 0 && (moreFeatures & MoreFeature.TWO_WAY_NARROW) !== 0;
  return { narrow, sweep: narrow && (moreFeatures & MoreFeature.TWO_WAY_SWEEP) !== 0 };
}

/** How fcp asks for a listing: TWO_WAY LIST (whole), TWO_WAY_SCOPE LIST (narrowed), or TWO_WAY_SCOPE SWEEP (narrowed, with a sweep). */
export type ListingAsk = 'whole' | 'narrowed' | 'swept';

/**
 * fcp's listings of one fcpd, one after another. An fcpd that cannot narrow is listed whole; one
 * that narrows but cannot sweep is listed whole at every SWEEP_SLICES-th sweep asked of it (so
 * its paths are looked at as often as a cycle of sweeps would), narrowed otherwise.
 */
export class ListingAsks {
  /** Sweeps asked of an fcpd that cannot sweep. */
  private sweepsWithout = 0;

  constructor(private readonly parts: ScopeParts) {}

  /** The next listing of a round that lists narrowed, with a sweep when `sweep` (a rescan). */
  next(sweep: boolean): ListingAsk {
    const wholeForSweep = sweep && !this.parts.sweep && ++this.sweepsWithout % SWEEP_SLICES === 0;
    if (!this.parts.narrow || wholeForSweep) return 'whole';
    return sweep && this.parts.sweep ? 'swept' : 'narrowed';
  }
}

/**
 * fcpd's refusal of a TWO_WAY_SCOPE from fcp, or undefined for one it takes: a PATH (its path is
 * checked as it is used), or LIST, or SWEEP where agreed, without a path. Anything else, or any of
 * them in a session without narrowed listings, is FCP_ERR_UNEXPECTED_MESSAGE.
 */
export function clientScopeRefusal(event: number, withPath: boolean, parts: ScopeParts): FcpError | undefined {
  if (!parts.narrow) return new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcp sent TWO_WAY_SCOPE ${event} in a two-way side's session without narrowed listings (TWO_WAY_NARROW)`);
  if (event === TwoWayScopeEvent.PATH) return undefined;
  const asking = event === TwoWayScopeEvent.LIST || (event === TwoWayScopeEvent.SWEEP && parts.sweep);
  if (asking && !withPath) return undefined;
  return new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcp sent TWO_WAY_SCOPE ${event}${withPath ? ' with a path' : ''}, where only PATH and LIST${parts.sweep ? ' or SWEEP' : ''} (no path) may come`);
}

/**
 * fcp's refusal of a TWO_WAY_SCOPE from fcpd, or undefined for one it takes: a PATH (its path
 * checked as it is used) or WHOLE, within a narrowed listing. LIST and SWEEP are fcp's to send.
 */
export function serverScopeRefusal(event: number, inNarrowedListing: boolean): FcpError | undefined {
  if (!inNarrowedListing) return new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcpd sent TWO_WAY_SCOPE ${event} outside a narrowed listing`);
  if (event === TwoWayScopeEvent.PATH || event === TwoWayScopeEvent.WHOLE) return undefined;
  return new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcpd sent TWO_WAY_SCOPE ${event} in a narrowed listing, where only PATH and WHOLE may come`);
}
