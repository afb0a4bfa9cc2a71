// compile-only stub, see ../README.md
