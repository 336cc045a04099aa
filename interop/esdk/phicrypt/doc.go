// Package phicrypt holds the interop tests between phicrypt's envelope
// package and the official AWS Encryption SDKs (Go v0.4.0 and, when node
// is installed, JavaScript 5.0.2). It has no non-test code.
package phicrypt
