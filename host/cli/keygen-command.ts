/**
 * `erpmod keygen [--out PREFIX]`: an Ed25519 key pair for signing packs. Exit 0 written, 1 refused
 * (a file exists: keys are never overwritten), 2 usage.
 */

import { generateKeyPair } from '../packaging/signing-keys';
import { positionalArgs, runVendorCommand, stringOption } from '../packaging/run-vendor-command';
import { parseOptions } from './parse-options';

export const KEYGEN_USAGE = `usage: erpmod keygen [--out PREFIX]

Writes an Ed25519 key pair for erpmod pack --key:
  PREFIX.key   the private key (PKCS#8 PEM, mode 0600): keep it secret, out of version control
  PREFIX.pub   the public key (one line, base64 of 32 bytes): what operators put in trusted_keys
Existing files are never overwritten.

options:
  --out PREFIX   default erpmod-signing

exit codes: 0 written, 1 refused (a file exists), 2 usage
`;

export function keygenCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(KEYGEN_USAGE, argv, () => {
    const { values, positionals } = parseOptions(argv, { out: { type: 'string' } });
    positionalArgs(positionals, 0, 0, 'no positional argument');
    const pair = generateKeyPair(stringOption(values.out) ?? 'erpmod-signing');
    process.stdout.write(
      `wrote ${pair.privateKeyFile} (private key, mode 0600: keep it secret) and ${pair.publicKeyFile} (public key)\n` +
        `key id ${pair.keyId}; public key: ${pair.publicKey}\n`,
    );
    return 0;
  });
}
