/**
 * Questions to the person at the terminal (passphrases, passwords, unknown host keys), read
 * from the controlling TTY like OpenSSH does, so they work while stdin/stdout are redirected.
 * With no TTY there is no prompter, and callers refuse instead of asking.
 */
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { showText } from '../showName';

export interface Prompter {
  /** Asks and resolves with the answer; `secret` answers are not echoed. */
  ask(question: string, secret: boolean): Promise<string>;
}

export function ttyPrompter(): Prompter | undefined {
  let fd: number;
  try {
    fd = fs.openSync('/dev/tty', 'r+');
  } catch {
    return undefined;
  }
  fs.closeSync(fd);
  return {
    ask(question, secret) {
      return new Promise((resolve, reject) => {
        const ttyFd = fs.openSync('/dev/tty', 'r+');
        const input = new tty.ReadStream(ttyFd);
        const output = fs.createWriteStream('', { fd: ttyFd, autoClose: false });
        // A keyboard-interactive prompt is the SSH server's text: shown escaped, as OpenSSH does.
        output.write(showText(question));
        input.setRawMode(true);
        let answer = '';
        const done = (error?: Error): void => {
          input.setRawMode(false);
          input.removeAllListeners('data');
          output.write('\n');
          input.destroy();
          if (error) reject(error);
          else resolve(answer);
        };
        input.on('data', (chunk: Buffer) => {
          for (const char of chunk.toString('utf8')) {
            if (char === '\r' || char === '\n') return done();
            if (char === '\u0003') return done(new Error('interrupted'));
            if (char === '\u007f' || char === '\b') {
              if (answer.length > 0 && !secret) output.write('\b \b');
              answer = answer.slice(0, -1);
            } else {
              answer += char;
              if (!secret) output.write(char);
            }
          }
        });
      });
    },
  };
}
