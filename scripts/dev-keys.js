// Writes a development RSA key pair under .run/dev-jwt (once), for `npm run dev` without an auth service.
const { generateKeyPairSync } = require('node:crypto');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', '.run', 'dev-jwt');
if (!existsSync(path.join(dir, 'public.pem'))) {
  mkdirSync(dir, { recursive: true });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(path.join(dir, 'private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'public.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  console.log(`[dev] development JWT key pair written to ${dir}`);
}
