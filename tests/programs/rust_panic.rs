//! A panic in a named call chain, built with `-C panic=abort`:
//! main -> rust_panic::outer -> rust_panic::Parser::parse -> panic -> abort.

struct Parser {
    input: &'static str,
}

impl Parser {
    #[inline(never)]
    fn parse(&self) -> u32 {
        let n = self.input.parse::<u32>().unwrap_or(0);
        if n == 0 {
            panic!("nothing to parse in {:?}", self.input);
        }
        n
    }
}

#[inline(never)]
fn outer(input: &'static str) -> u32 {
    let parser = Parser { input };
    std::hint::black_box(parser.parse()) + 1
}

fn main() {
    let n = outer(std::hint::black_box("not a number"));
    println!("{n}");
}
