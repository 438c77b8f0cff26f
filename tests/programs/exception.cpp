// An uncaught exception thrown in namespaced template code:
// main -> ns::run<int> -> ns::Thing<int>::method -> throw -> std::terminate
// -> abort.
#include <stdexcept>

#define KEEP __attribute__((noipa))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

namespace ns {

template <typename T>
struct Thing {
  T value;
  KEEP void method() {
    if (value == T()) throw std::runtime_error("no value");
    NOT_TAIL();
  }
};

template <typename T>
KEEP void run(Thing<T> &thing) {
  thing.method();
  NOT_TAIL();
}

}  // namespace ns

int main() {
  ns::Thing<int> thing{0};
  ns::run(thing);
  return 0;
}
