// A crash inside C++ templates, namespaces and a class, at -O2 with an
// inlined member template between out-of-line frames.
#include <cstddef>

namespace shapes {

template <typename T> struct Box {
  T *slot;
  template <typename U> __attribute__((always_inline)) inline void fill(U v) {
    *slot = static_cast<T>(v);
  }
  __attribute__((noinline)) void crash(int v);
};

template <typename T> __attribute__((noinline)) void Box<T>::crash(int v) {
  fill(v + 1);
  __asm__ volatile("");
}

template <typename T> __attribute__((noinline)) void apply(Box<T> &b, int v) {
  b.crash(v);
  __asm__ volatile("");
}

} // namespace shapes

int main(int argc, char **) {
  shapes::Box<long> box{argc > 5 ? new long : nullptr};
  shapes::apply(box, argc);
  return 0;
}
