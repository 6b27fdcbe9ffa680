/**
 * npm run bench [-- CASE...] [--runs N] [--tools REGEX [--no-baseline]] [--docs]
 *
 * Every tool of bench/suite/tools.ts on every link and data set, in the same run: CASE is a link
 * (local, loopback, wan50, wan200, wan50-loss, wan200-loss) or LINK:DATA (DATA: big, tree, mixed, midfiles;
 * files200k and files1m, many tiny files, and treeSome and treeAgain, the tree into a landing that
 * holds part or all of it, only when named); none means all of them. Each tool runs N times (3 by default), its output is checked against the
 * source first (round robin: one run of each tool per round), and the median, spread, CPU seconds and peak RSS are kept in bench/results/ and
 * shown in docs/BENCHMARKS.md. --tools runs the baseline and the tools whose label it matches
 * (--no-baseline: those alone), kept beside the link's full run, as a run of some of a link's data sets is. The WAN links need root (../shared/bench/wan/wan.sh). --docs only
 * rewrites docs/BENCHMARKS.md from the results already kept.
 * Not a test: timings belong here, not in the test suite.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DATA_NAMES, LANDING_NAMES, makeData, MANY_FILES_NAMES, treeDigest, type DataName, type DataSet } from './suite/data';
import { LINK_NAMES, openLink, type LinkName } from './suite/links';
import { measureAll } from './suite/measure';
import { newResults, printCase, saveResults, writeDocs, type LinkResults } from './suite/report';
import { timedFcpd, toolsFor, type Direction } from './suite/tools';

interface Plan {
  cases: Map<LinkName, DataName[]>;
  runs: number;
  /** Set by --tools: only the baseline and these run. */
  tools?: RegExp;
  baseline: boolean;
  docsOnly: boolean;
}

function usage(message: string): never {
  console.error(`bench: ${message}\nusage: npm run bench -- [LINK[:DATA]]... [--runs N] [--tools REGEX [--no-baseline]] [--docs]\n  LINK: ${LINK_NAMES.join(', ')}; DATA: ${DATA_NAMES.join(', ')} (all of them by default), ${MANY_FILES_NAMES.join(', ')}, ${LANDING_NAMES.join(', ')}`);
  process.exit(2);
}

function parse(args: string[]): Plan {
  const plan: Plan = { cases: new Map(), runs: 3, baseline: true, docsOnly: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--runs') plan.runs = Number(args[++i]);
    else if (arg === '--tools') plan.tools = new RegExp(args[++i] ?? '');
    else if (arg === '--no-baseline') plan.baseline = false;
    else if (arg === '--docs') plan.docsOnly = true;
    else {
      const [link, data] = arg.split(':') as [LinkName, DataName | undefined];
      if (!LINK_NAMES.includes(link)) usage(`unknown link ${arg}`);
      if (data !== undefined && !DATA_NAMES.includes(data) && !MANY_FILES_NAMES.includes(data) && !LANDING_NAMES.includes(data)) usage(`unknown data set ${arg}`);
      plan.cases.set(link, [...(plan.cases.get(link) ?? []), ...(data ? [data] : DATA_NAMES)]);
    }
  }
  if (!Number.isInteger(plan.runs) || plan.runs < 1) usage('--runs takes a whole number of at least 1');
  if (!plan.baseline && !plan.tools) usage('--no-baseline goes with --tools');
  if (plan.cases.size === 0) for (const link of LINK_NAMES) plan.cases.set(link, [...DATA_NAMES]);
  return plan;
}

/**
 * The group a link's results are kept under: a run of some of its data sets (LINK:DATA) or of some
 * tools (--tools) is kept beside the link's full run, never in its place (a run of the tree alone
 * once replaced the loopback link's 1 GiB tables).
 */
function groupOf(dataNames: readonly DataName[], selectsTools: boolean): LinkResults['group'] {
  if (dataNames.length === 1 && dataNames[0] === 'files1m') return 'a million files';
  if (dataNames.every((name) => MANY_FILES_NAMES.includes(name))) return 'many files';
  if (dataNames.every((name) => LANDING_NAMES.includes(name))) return 'landings';
  if (!selectsTools && DATA_NAMES.every((name) => dataNames.includes(name))) return undefined;
  return dataNames.every((name) => name === 'tree') ? 'selected tools, the 10,000-file tree' : 'selected tools';
}

function main(): void {
  const plan = parse(process.argv.slice(2));
  if (plan.docsOnly) return writeDocs();
  const work = fs.mkdtempSync('/dev/shm/fcp-bench-');
  try {
    const sourceDir = path.join(work, 'source');
    fs.mkdirSync(sourceDir);
    const data = new Map<DataName, { set: DataSet; digest: string }>();
    const dataSet = (name: DataName) => {
      let made = data.get(name);
      if (!made) {
        const set = makeData(name, sourceDir);
        made = { set, digest: treeDigest(set.path) };
        data.set(name, made);
      }
      return made;
    };
    const fcpdLog = path.join(work, 'fcpd.usage');
    const fcpd = { ours: timedFcpd(work, fcpdLog), baseline: process.env.BASELINE ? timedFcpd(work, fcpdLog, process.env.BASELINE) : undefined };
    for (const [linkName, dataNames] of plan.cases) {
      const link = openLink(linkName, work);
      try {
        const results = newResults(link, plan.runs, groupOf(dataNames, plan.tools !== undefined));
        const directions: Direction[] = link.host ? ['push', 'pull'] : ['local'];
        for (const name of dataNames) {
          const { set, digest } = dataSet(name);
          for (const direction of directions) {
            const tools = toolsFor(link, direction, fcpd, set).filter((tool) => !plan.tools || (tool.role === 'baseline' && plan.baseline) || plan.tools.test(tool.label));
            const result = {
              data: { name: set.name, title: set.title, bytes: set.bytes, files: set.files },
              direction,
              tools: measureAll(tools, { link, data: set, digest, out: path.join(work, 'out'), fcpdLog, runs: plan.runs }),
            };
            results.cases.push(result);
            printCase(result, results);
          }
        }
        results.loadAverage.after = os.loadavg()[0]!;
        console.log(`\nkept in ${saveResults(results)}`);
      } finally {
        link.close();
      }
    }
    writeDocs();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
