//! The Huffman code of RFC 7541 Appendix B, and the decoding automaton
//! built from it at compile time.
//!
//! The decoder reads four bits at a time. Its states are the 256 inner
//! nodes of the code tree (257 leaves: the bytes and EOS); [`STEPS`] gives,
//! for each state and each 4-bit group, the state after it and the symbol
//! it completed, if any, in one 32-bit word. No code is shorter than five bits, so a group
//! completes at most one symbol. The tables are computed by `const fn`s
//! from [`CODES`], the one table copied from the RFC; building them checks
//! that the code is prefix-free and complete, or the crate does not
//! compile.

/// Each symbol's code, right-aligned, and its length in bits: bytes 0 to
/// 255, then EOS (RFC 7541 Appendix B).
#[rustfmt::skip]
pub(super) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),  // 0 1 2 3
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), // 4 5 6 7
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28), // 8 9 10 11
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), // 12 13 14 15
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28), // 16 17 18 19
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), // 20 21 22 23
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), // 24 25 26 27
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28), // 28 29 30 31
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),                // ' ' '!' '"' '#'
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),                 // '$' '%' '&' '''
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),                // '(' ')' '*' '+'
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),                      // ',' '-' '.' '/'
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),                         // '0' '1' '2' '3'
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),                      // '4' '5' '6' '7'
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),                      // '8' '9' ':' ';'
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),               // '<' '=' '>' '?'
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),                   // '@' 'A' 'B' 'C'
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),                      // 'D' 'E' 'F' 'G'
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),                      // 'H' 'I' 'J' 'K'
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),                      // 'L' 'M' 'N' 'O'
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),                      // 'P' 'Q' 'R' 'S'
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),                      // 'T' 'U' 'V' 'W'
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),                   // 'X' 'Y' 'Z' '['
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),            // '\' ']' '^' '_'
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),                     // '`' 'a' 'b' 'c'
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),                       // 'd' 'e' 'f' 'g'
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),                       // 'h' 'i' 'j' 'k'
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),                       // 'l' 'm' 'n' 'o'
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),                       // 'p' 'q' 'r' 's'
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),                       // 't' 'u' 'v' 'w'
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),                   // 'x' 'y' 'z' '{'
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),        // '|' '}' '~' 127
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),     // 128 129 130 131
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),  // 132 133 134 135
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),  // 136 137 138 139
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),  // 140 141 142 143
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),  // 144 145 146 147
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),  // 148 149 150 151
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),  // 152 153 154 155
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),  // 156 157 158 159
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),   // 160 161 162 163
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),  // 164 165 166 167
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),  // 168 169 170 171
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),  // 172 173 174 175
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),  // 176 177 178 179
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),  // 180 181 182 183
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),   // 184 185 186 187
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),  // 188 189 190 191
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),  // 192 193 194 195
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25), // 196 197 198 199
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), // 200 201 202 203
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), // 204 205 206 207
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27), // 208 209 210 211
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24), // 212 213 214 215
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), // 216 217 218 219
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27), // 220 221 222 223
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),    // 224 225 226 227
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),  // 228 229 230 231
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25), // 232 233 234 235
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23), // 236 237 238 239
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), // 240 241 242 243
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27), // 244 245 246 247
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27), // 248 249 250 251
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), // 252 253 254 255
    (0x3fffffff, 30),                                                // EOS
];

/// The EOS symbol: 30 ones. It never appears in a valid string; its
/// leading bits pad the last byte.
const EOS: u16 = 256;

/// Number of inner nodes of the code tree, the states of the decoder.
const STATES: usize = 256;

/// Marks a child that is a leaf; the low bits hold its symbol.
const LEAF: u16 = 0x8000;

/// The code tree: for each inner node, its two children (an inner node's
/// number, or [`LEAF`] with a symbol). Node 0 is the root.
struct Tree {
    /// Children for bit 0 and bit 1.
    children: [[u16; 2]; STATES],
    /// Depth of each node: how many bits lead to it from the root.
    depth: [u8; STATES],
    /// Whether every bit on the way from the root is a one.
    all_ones: [bool; STATES],
}

/// Builds the tree from [`CODES`]; fails to compile if two codes collide
/// or the code leaves a path unused.
const fn build_tree() -> Tree {
    let mut tree = Tree {
        children: [[0; 2]; STATES],
        depth: [0; STATES],
        all_ones: [false; STATES],
    };
    tree.all_ones[0] = true;
    // Nodes in use; 0 is the root, and never anybody's child, so a child
    // of 0 means "not yet made".
    let mut nodes = 1;
    let mut symbol = 0;
    while symbol < CODES.len() {
        let (code, len) = CODES[symbol];
        let mut node = 0;
        let mut bit = len;
        while bit > 1 {
            bit -= 1;
            let side = ((code >> bit) & 1) as usize;
            let child = tree.children[node][side];
            if child == 0 {
                assert!(nodes < STATES, "the code has too many inner nodes");
                tree.children[node][side] = nodes as u16;
                tree.depth[nodes] = tree.depth[node] + 1;
                tree.all_ones[nodes] = tree.all_ones[node] && side == 1;
                node = nodes;
                nodes += 1;
            } else {
                assert!(child & LEAF == 0, "a code is a prefix of another");
                node = child as usize;
            }
        }
        let side = (code & 1) as usize;
        assert!(tree.children[node][side] == 0, "two codes collide");
        tree.children[node][side] = LEAF | symbol as u16;
        symbol += 1;
    }
    // 257 leaves in a full binary tree need exactly 256 inner nodes; with
    // no collision above, every inner node then has both children.
    assert!(nodes == STATES, "the code is not complete");
    tree
}

/// One move of the decoder, packed in 32 bits for one load: the row of
/// the next state in [`STEPS`] (its number × 16) in bits 0–11, the byte
/// completed in bits 16–23, and two flags.
#[derive(Clone, Copy)]
pub(super) struct Step(u32);

impl Step {
    /// The group completed a byte.
    const EMITS: u32 = 1 << 24;
    /// The group completed EOS.
    const EOS: u32 = 1 << 25;

    /// The row of the state after the group: `state × 16`, below 4096.
    pub(super) const fn next_row(self) -> usize {
        (self.0 & 0xfff) as usize
    }

    /// 1 if the group completed a byte, else 0.
    pub(super) const fn emitted(self) -> usize {
        ((self.0 >> 24) & 1) as usize
    }

    /// Whether the group completed EOS.
    pub(super) const fn is_eos(self) -> bool {
        self.0 & Self::EOS != 0
    }

    /// The byte completed, when [`emitted`](Self::emitted) is 1.
    pub(super) const fn symbol(self) -> u8 {
        (self.0 >> 16) as u8
    }
}

/// Walks the tree from every state with every 4-bit group.
const fn build_steps(tree: &Tree) -> [Step; STATES * 16] {
    let mut steps = [Step(0); STATES * 16];
    let mut state = 0;
    while state < STATES {
        let mut group = 0;
        while group < 16 {
            let mut node = state;
            let mut packed = 0;
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = tree.children[node][(group >> bit) & 1];
                if child & LEAF == 0 {
                    node = child as usize;
                } else {
                    let symbol = child & !LEAF;
                    packed |= if symbol == EOS {
                        Step::EOS
                    } else {
                        Step::EMITS | (symbol as u32) << 16
                    };
                    node = 0;
                }
            }
            steps[state * 16 + group] = Step(packed | (node * 16) as u32);
            group += 1;
        }
        state += 1;
    }
    steps
}

/// What ending a string in a state means: the bits since the last symbol
/// are the padding (§5.2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// No padding, or up to 7 one bits.
    Valid,
    /// Ones, but more than 7 of them.
    PaddingTooLong,
    /// Not the leading bits of EOS: a zero among them.
    PaddingNotOnes,
}

/// The [`Ending`] of every state.
const fn build_endings(tree: &Tree) -> [Ending; STATES] {
    let mut endings = [Ending::Valid; STATES];
    let mut state = 0;
    while state < STATES {
        endings[state] = if !tree.all_ones[state] {
            Ending::PaddingNotOnes
        } else if tree.depth[state] > 7 {
            Ending::PaddingTooLong
        } else {
            Ending::Valid
        };
        state += 1;
    }
    endings
}

/// The tree, only needed to build the tables below.
const TREE: Tree = build_tree();

/// The decoder's moves: `STEPS[state × 16 + group]`, 16 KiB.
pub(super) static STEPS: [Step; STATES * 16] = build_steps(&TREE);

/// How a string may end in each state.
pub(super) static ENDINGS: [Ending; STATES] = build_endings(&TREE);
