// Package functions holds one main package per route registry entry, each
// built into its own Lambda bootstrap. The tests here run those binaries
// under the Lambda Runtime Interface Emulator.
package functions
