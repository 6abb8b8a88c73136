// Prints a token for the development key of `npm run dev`, as the auth service would issue it:
//   npm run dev:token -- <userId>     then   curl -H "Authorization: Bearer $TOKEN" localhost:4003/api/v1/wallet/user
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { importPKCS8, SignJWT } = require('jose');

async function main() {
  const userId = process.argv[2];
  if (!/^[0-9a-fA-F]{24}$/.test(userId ?? '')) {
    console.error('usage: npm run dev:token -- <24-hex-digit user id>');
    process.exit(2);
  }
  const pem = readFileSync(path.join(__dirname, '..', '.run', 'dev-jwt', 'private.pem'), 'utf8');
  const key = await importPKCS8(pem, 'RS256');
  const token = await new SignJWT({ user: { id: userId, role: 'user' } })
    .setProtectedHeader({ alg: 'RS256', kid: 'main-key' })
    .setIssuedAt()
    .setIssuer(process.env.JWT_ISS ?? 'auth-service')
    .setAudience([process.env.JWT_AUD ?? 'wallet-service'])
    .setExpirationTime('1d')
    .sign(key);
  process.stdout.write(`${token}\n`);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
