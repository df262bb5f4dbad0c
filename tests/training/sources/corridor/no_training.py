"""A script-mode program that forgets to train."""

print("configured, but never called train_main()")
