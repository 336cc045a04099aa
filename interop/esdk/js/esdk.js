#!/usr/bin/env node
// esdk.js: encrypt or decrypt stdin to stdout with the AWS Encryption SDK for
// JavaScript (@aws-crypto/client-node 5.0.2), for phicrypt interop tests.
//
//   node esdk.js encrypt|decrypt --aes-key-hex HEX --namespace NS --name N
//                [--frame N] [--suite 0x0578] [--context k=v]... [--verbose] < in > out
//
// The key is a raw AES keyring (RawAesKeyringNode) with AES-GCM wrapping of
// the key's size (16, 24 or 32 bytes; AES-256-GCM for the usual 32-byte key).
// The client is buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT).
//
// On decrypt, JS 5.0.2 takes no reproduced encryption context, so every
// --context pair is checked against the message header's EC after
// decryption; a missing or different value fails. --verbose prints the suite
// and the header EC to stderr.
//
// Exit status: 0 ok, 1 failure, 2 usage.
'use strict'

const {
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy
} = require('@aws-crypto/client-node')

class UsageError extends Error {}

function parseArgs (argv) {
  const op = argv[0]
  if (op !== 'encrypt' && op !== 'decrypt') {
    throw new UsageError('usage: node esdk.js encrypt|decrypt --aes-key-hex HEX --namespace NS --name N [--frame N] [--suite 0x0578] [--context k=v]... [--verbose]')
  }
  const o = { op, context: {}, verbose: false }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--verbose') {
      o.verbose = true
      continue
    }
    if (i + 1 >= argv.length) throw new UsageError(`${a}: missing value`)
    const v = argv[++i]
    switch (a) {
      case '--aes-key-hex': o.keyHex = v; break
      case '--namespace': o.namespace = v; break
      case '--name': o.name = v; break
      case '--frame': {
        const n = Number(v)
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--frame ${v}: want a positive integer`)
        o.frame = n
        break
      }
      case '--suite': {
        const n = parseInt(v.replace(/^0x/i, ''), 16)
        if (!Number.isInteger(n) || AlgorithmSuiteIdentifier[n] === undefined) throw new UsageError(`--suite ${v}: unknown suite`)
        o.suite = n
        break
      }
      case '--context': {
        const eq = v.indexOf('=')
        if (eq < 0) throw new UsageError(`--context ${v}: want k=v`)
        const k = v.slice(0, eq)
        if (Object.prototype.hasOwnProperty.call(o.context, k)) throw new UsageError(`--context: duplicate key ${k}`)
        o.context[k] = v.slice(eq + 1)
        break
      }
      default:
        throw new UsageError(`unknown flag ${a}`)
    }
  }
  if (!o.keyHex || !o.namespace || !o.name) throw new UsageError('--aes-key-hex, --namespace and --name are required')
  if (!/^[0-9a-fA-F]*$/.test(o.keyHex)) throw new UsageError('--aes-key-hex: not hex')
  if (o.op === 'decrypt' && (o.frame !== undefined || o.suite !== undefined)) throw new UsageError('--frame and --suite apply to encrypt only')
  return o
}

function keyring (o) {
  const key = Buffer.from(o.keyHex, 'hex')
  const suites = {
    16: RawAesWrappingSuiteIdentifier.AES128_GCM_IV12_TAG16_NO_PADDING,
    24: RawAesWrappingSuiteIdentifier.AES192_GCM_IV12_TAG16_NO_PADDING,
    32: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING
  }
  const wrappingSuite = suites[key.length]
  if (wrappingSuite === undefined) throw new UsageError(`--aes-key-hex: ${key.length} bytes, want 16, 24 or 32`)
  return new RawAesKeyringNode({
    keyName: o.name,
    keyNamespace: o.namespace,
    unencryptedMasterKey: new Uint8Array(key),
    wrappingSuite
  })
}

async function readStdin () {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  return Buffer.concat(chunks)
}

function writeStdout (buf) {
  return new Promise((resolve, reject) => {
    process.stdout.write(buf, err => (err ? reject(err) : resolve()))
  })
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const kr = keyring(o)
  const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
  const input = await readStdin()
  if (o.op === 'encrypt') {
    const opts = { encryptionContext: o.context }
    if (o.frame !== undefined) opts.frameLength = o.frame
    if (o.suite !== undefined) opts.suiteId = o.suite
    const { result } = await encrypt(kr, input, opts)
    await writeStdout(result)
    return
  }
  const { plaintext, messageHeader } = await decrypt(kr, input)
  const ec = messageHeader.encryptionContext
  for (const [k, v] of Object.entries(o.context)) {
    if (!Object.prototype.hasOwnProperty.call(ec, k) || ec[k] !== v) {
      throw new Error(`encryption context mismatch for key ${JSON.stringify(k)}`)
    }
  }
  if (o.verbose) {
    process.stderr.write(`suite 0x${messageHeader.suiteId.toString(16).padStart(4, '0')}\n`)
    for (const k of Object.keys(ec).sort()) {
      process.stderr.write(`context ${JSON.stringify(k)}=${JSON.stringify(ec[k])}\n`)
    }
  }
  await writeStdout(plaintext)
}

main().catch(err => {
  process.stderr.write(`esdk.js: ${err && err.message ? err.message : err}\n`)
  process.exitCode = err instanceof UsageError ? 2 : 1
})
