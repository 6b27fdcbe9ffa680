/**
 * Rewrites the generated parts of docs/PROTOCOL.md from the code: the byte-offset tables (between
 * the layouts markers) and the test vectors (between the vectors markers). Run by `npm run docs:vectors` after a build; test/unit/protocol/docVectors.test.ts checks
 * the result. Everything outside the markers is left as it is.
 */
import { readFileSync, writeFileSync } from 'fs';
import { resolve } from 'path';
import { LAYOUTS_BEGIN, LAYOUTS_END, renderLayoutsMarkdown } from '../test/unit/protocol/layoutDoc';
import { renderVectorsMarkdown, replaceBetween, replaceVectors } from '../test/unit/protocol/vectors';

async function main(): Promise<void> {
  const file = resolve(process.argv[2] ?? 'docs/PROTOCOL.md');
  const doc = readFileSync(file, 'utf8');
  let updated: string;
  try {
    updated = replaceBetween(replaceVectors(doc, await renderVectorsMarkdown()), LAYOUTS_BEGIN, LAYOUTS_END, renderLayoutsMarkdown());
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (updated === doc) {
    console.log(`${file}: offsets and test vectors already up to date`);
    return;
  }
  writeFileSync(file, updated);
  console.log(`${file}: offsets and test vectors rewritten`);
}

main().catch((err: unknown) => {
  console.error(`docs:vectors: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
