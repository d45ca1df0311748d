// A second, independent age implementation (typage, the npm package
// "age-encryption") driven from the test suite for interoperability checks.
//
//   node agejs.mjs keygen-pq                 -> identity line, recipient line
//   node agejs.mjs encrypt [--armor] R...    stdin -> stdout
//   node agejs.mjs decrypt IDENTITY...       stdin -> stdout (armor detected)
import { readFileSync, writeSync } from "node:fs";
import * as age from "age-encryption";

const [command, ...args] = process.argv.slice(2);
const input = () => new Uint8Array(readFileSync(0));
const output = (bytes) => {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(1, bytes, offset);
};

if (command === "keygen-pq") {
  const identity = await age.generateHybridIdentity();
  const recipient = await age.identityToRecipient(identity);
  process.stdout.write(`${identity}\n${recipient}\n`);
} else if (command === "encrypt") {
  const armored = args[0] === "--armor";
  const encrypter = new age.Encrypter();
  for (const recipient of armored ? args.slice(1) : args) encrypter.addRecipient(recipient);
  const file = await encrypter.encrypt(input());
  output(armored ? new TextEncoder().encode(age.armor.encode(file)) : file);
} else if (command === "decrypt") {
  const decrypter = new age.Decrypter();
  for (const identity of args) decrypter.addIdentity(identity);
  let file = input();
  const text = new TextDecoder().decode(file.subarray(0, 64));
  if (text.trimStart().startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) {
    file = age.armor.decode(new TextDecoder().decode(file));
  }
  output(await decrypter.decrypt(file));
} else {
  process.stderr.write(`unknown command ${command}\n`);
  process.exit(2);
}
