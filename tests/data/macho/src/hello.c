/* A leaf library for the Mach-O reader and signer tests (scripts/build_macho_fixture.py). */
int hello_add(int a, int b) { return a + b; }
const char *hello_version(void) { return "hello 1.0"; }
