/** A directory tree as tests compare it: every entry's kind and what it holds (a file's content, a symlink's target), by relative path; fcp's partial files left out. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Tree = Record<string, string>;

export function treeOf(root: string): Tree {
  const out: Tree = {};
  const visit = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      if (entry.name.includes('.fcp-part')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(root, child);
      if (entry.isSymbolicLink()) out[child] = `link:${fs.readlinkSync(full)}`;
      else if (entry.isDirectory()) {
        out[child] = 'dir';
        visit(child);
      } else out[child] = `file:${fs.readFileSync(full, 'utf8')}`;
    }
  };
  visit('');
  return out;
}
