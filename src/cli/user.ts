// `tollgate user add NAME [--groups a,b]`: hashes a password (scrypt) for a local user of the OAuth
// login page and prints the entry for auth.oauth.users. The password comes on standard input (one
// line), never on the command line where `ps` and shell history would keep it.
import { hashPassword } from '../oauth/users.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;

export function userAddCommand(
  name: string | undefined,
  groups: string | undefined,
  password: string,
  print: (s: string) => void,
  printError: (s: string) => void = print,
): number {
  if (name === undefined || !NAME.test(name)) {
    printError(`usage: tollgate user add NAME [--groups a,b] < password-file  (NAME: letters, digits and _ . @ -)\n`);
    return 2;
  }
  if (password.length < 8) {
    printError('tollgate user add: give a password of at least 8 characters on standard input\n');
    return 2;
  }
  const list = (groups ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  print(
    [
      `Add to auth.oauth.users in the gateway config:`,
      `    - name: ${name}`,
      `      password_hash: "${hashPassword(password)}"`,
      ...(list.length > 0 ? [`      groups: [${list.join(', ')}]`] : []),
      ``,
    ].join('\n'),
  );
  return 0;
}
