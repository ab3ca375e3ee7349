// A password for `cellar login` and `cellar account create`: from the terminal without echo,
// or, with --password-stdin, the first line of standard input (for scripts: never on the command
// line, where other users of the machine could read it).
import { UsageError } from './errors.ts';

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

function fromTerminal(prompt: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.removeListener('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new UsageError('interrupted'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

export async function readPassword(options: { passwordStdin?: boolean }, prompt: string): Promise<string> {
  const password = options.passwordStdin ? await firstLineOfStdin() : process.stdin.isTTY ? await fromTerminal(prompt) : undefined;
  if (password === undefined) throw new UsageError('no terminal to read the password from: pass --password-stdin and write it to standard input');
  if (password === '') throw new UsageError('the password is empty');
  return password;
}
