/**
 * The floor under fcp --sftp's figures in bench/remote.sh's sftp case: ssh2's own fastGet and
 * fastPut of one file over one SFTP session, with as many bytes in flight as fcp's mover keeps
 * (CHUNKS_PER_SESSION chunks of SFTP_CHUNK_BYTES, in requests as large as the server takes), and
 * nothing else: no temporary name, no hash, no remote shell, no mode or mtime.
 *
 * Usage: sftpFloor.js get|put PORT KEYFILE LOCAL REMOTE   (user root on 127.0.0.1, as the bench's sshd)
 */
import { readFileSync } from 'node:fs';
import { Client, SFTPWrapper } from 'ssh2';
import { CHUNKS_PER_SESSION } from '../src/sftp/mover';
import { requestBytes } from '../src/sftp/remoteFs';
import { SFTP_CHUNK_BYTES } from '../src/sftp/resume';

const [direction, port, keyFile, local, remote] = process.argv.slice(2);
if ((direction !== 'get' && direction !== 'put') || !port || !keyFile || !local || !remote) {
  process.stderr.write('usage: sftpFloor.js get|put PORT KEYFILE LOCAL REMOTE\n');
  process.exit(2);
}

const client = new Client();
client.on('error', (err) => {
  process.stderr.write(`sftpFloor: ${err.message}\n`);
  process.exit(1);
});
client.on('ready', () =>
  client.sftp((err, sftp) => {
    if (err) throw err;
    const limit = (sftp as unknown as { _maxReadLen: number; _maxWriteLen: number })[direction === 'get' ? '_maxReadLen' : '_maxWriteLen'];
    const chunkSize = requestBytes(SFTP_CHUNK_BYTES, limit);
    const concurrency = CHUNKS_PER_SESSION * Math.ceil(SFTP_CHUNK_BYTES / chunkSize);
    const done = (failed: Error | null | undefined) => {
      if (failed) throw failed;
      client.end();
    };
    const transfer: SFTPWrapper['fastGet'] = direction === 'get' ? sftp.fastGet.bind(sftp) : sftp.fastPut.bind(sftp);
    transfer(direction === 'get' ? remote : local, direction === 'get' ? local : remote, { concurrency, chunkSize }, done);
  }),
);
client.connect({ host: '127.0.0.1', port: Number(port), username: 'root', privateKey: readFileSync(keyFile) });
