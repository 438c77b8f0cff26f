/* Calls into libsplit.so (linked with an rpath to its folder). */
extern void split_crash(int *p);

int main(int argc, char **argv) {
  (void)argv;
  split_crash(argc > 5 ? &argc : 0);
  return 0;
}
