//! A small, safe evaluator for the Python lambdas that `LambdaLR` and `MultiplicativeLR`
//! take, written as text in a config: `"0.95 ** epoch"`, `"1 / (epoch + 1)"`,
//! `"min(1.0, (epoch + 1) / 10)"`, `"lambda e: e / 5 if e < 5 else 1.0"`.
//!
//! The grammar is the arithmetic subset of Python, with Python's precedence and
//! semantics: `+ - * / // % **` (`**` binds tighter than a unary minus on its left and
//! is right-associative), comparisons (chained as in Python, giving 1 or 0),
//! `a if cond else b`, parentheses, the constants `pi` and `e`, and the functions `min`,
//! `max`, `exp`, `log`, `sqrt`, `cos`, `sin`, `floor`, `ceil` and `abs` (each may be
//! written with a `math.` prefix). Every value is an `f64`; integers below 2^53 behave
//! exactly as Python's `int`. Where Python raises (division by zero, `log(0)`, overflow),
//! evaluation returns an error.
//!
//! Parsing is bounded: at most [`MAX_LEN`] characters and [`MAX_DEPTH`] levels of nesting,
//! so no input can exhaust the stack.
//!
//! ```
//! use lrsched::torch::expr::Expr;
//! let e = Expr::parse("0.1 ** (epoch // 30)", "epoch").unwrap();
//! assert_eq!(e.eval(65.0).unwrap(), 0.1f64.powf(2.0));
//! let err = Expr::parse("1 / (epoch +", "epoch").unwrap_err();
//! assert_eq!(err.column, 13);
//! ```

/// The other direction: a schedule's formula written as this grammar's text.
#[cfg(feature = "serde")]
pub(crate) mod write;

use std::fmt;

/// The longest expression accepted, in characters.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of operations accepted.
pub const MAX_DEPTH: usize = 64;

/// Why an expression could not be parsed: the 1-based column and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    /// 1-based column (in characters) where the problem is.
    pub column: usize,
    /// What was expected or found.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Min,
    Max,
    Exp,
    Log,
    Sqrt,
    Cos,
    Sin,
    Floor,
    Ceil,
    Abs,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    Var,
    Neg(Box<Node>),
    Bin(Bin, Box<Node>, Box<Node>),
    /// `a < b <= c`: operands and the comparisons between them.
    Cmp(Vec<Node>, Vec<Cmp>),
    Call(Func, Vec<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
}

/// A parsed expression in one variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    var: String,
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(&'static str),
    End,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Empty until the first free name, when parsing with [`Expr::parse_any`].
    var: String,
    depth: usize,
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    const OPS: &[&str] = &[
        "**", "//", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "(", ")", ",", "<", ">", ":",
        ".",
    ];
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let v: f64 = text.parse().map_err(|_| ExprError {
                column: col,
                message: format!("`{text}` is not a number"),
            })?;
            out.push((Tok::Num(v), col));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Name(chars[start..i].iter().collect()), col));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or(ExprError {
                    column: col,
                    message: format!("unexpected character `{c}`"),
                })?;
            i += op.chars().count();
            out.push((Tok::Op(op), col));
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

fn uses_var(n: &Node) -> bool {
    match n {
        Node::Num(_) => false,
        Node::Var => true,
        Node::Neg(a) => uses_var(a),
        Node::Bin(_, a, b) => uses_var(a) || uses_var(b),
        Node::Cmp(xs, _) | Node::Call(_, xs) => xs.iter().any(uses_var),
        Node::Cond(a, b, c) => uses_var(a) || uses_var(b) || uses_var(c),
    }
}

fn depth(n: &Node) -> usize {
    match n {
        Node::Num(_) | Node::Var => 1,
        Node::Neg(a) => 1 + depth(a),
        Node::Bin(_, a, b) => 1 + depth(a).max(depth(b)),
        Node::Cmp(xs, _) | Node::Call(_, xs) => 1 + xs.iter().map(depth).max().unwrap_or(0),
        Node::Cond(a, b, c) => 1 + depth(a).max(depth(b)).max(depth(c)),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }
    fn col(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            column: self.col(),
            message: message.into(),
        })
    }
    fn bump(&mut self) {
        self.pos += 1;
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if *self.peek() == Tok::Op(leak(op)) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Tok::Name(n) if n == name) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn found(&self) -> String {
        match self.peek() {
            Tok::Num(v) => format!("number {v}"),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Op(o) => format!("`{o}`"),
            Tok::End => "the end".into(),
        }
    }
    /// Builds a node, refusing trees deeper than [`MAX_DEPTH`] so evaluation stays shallow.
    fn node(&self, n: Node, col: usize) -> Result<Node, ExprError> {
        if depth(&n) > MAX_DEPTH {
            return Err(ExprError {
                column: col,
                message: format!("expression nested deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(n)
    }
    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("expression nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let col = self.col();
        let body = self.comparison()?;
        let out = if self.eat_name("if") {
            let cond = self.comparison()?;
            if !self.eat_name("else") {
                return self.err(format!("expected `else`, found {}", self.found()));
            }
            let other = self.expr()?;
            self.node(
                Node::Cond(Box::new(cond), Box::new(body), Box::new(other)),
                col,
            )?
        } else {
            body
        };
        self.depth -= 1;
        Ok(out)
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        let first = self.arith()?;
        let mut operands = vec![first];
        let mut ops = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("<") => Cmp::Lt,
                Tok::Op("<=") => Cmp::Le,
                Tok::Op(">") => Cmp::Gt,
                Tok::Op(">=") => Cmp::Ge,
                Tok::Op("==") => Cmp::Eq,
                Tok::Op("!=") => Cmp::Ne,
                _ => break,
            };
            self.bump();
            ops.push(op);
            operands.push(self.arith()?);
        }
        if ops.is_empty() {
            Ok(operands.pop().unwrap_or(Node::Num(0.0)))
        } else {
            self.node(Node::Cmp(operands, ops), col)
        }
    }

    fn arith(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        let mut left = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => Bin::Add,
                Tok::Op("-") => Bin::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.term()?;
            left = self.node(Node::Bin(op, Box::new(left), Box::new(right)), col)?;
        }
    }

    fn term(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        let mut left = self.factor()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => Bin::Mul,
                Tok::Op("/") => Bin::Div,
                Tok::Op("//") => Bin::FloorDiv,
                Tok::Op("%") => Bin::Mod,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.factor()?;
            left = self.node(Node::Bin(op, Box::new(left), Box::new(right)), col)?;
        }
    }

    fn factor(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        if self.eat_op("-") {
            self.enter()?;
            let inner = self.factor()?;
            self.depth -= 1;
            return self.node(Node::Neg(Box::new(inner)), col);
        }
        if self.eat_op("+") {
            self.enter()?;
            let inner = self.factor()?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.power()
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        let base = self.atom()?;
        if self.eat_op("**") {
            self.enter()?;
            let exp = self.factor()?;
            self.depth -= 1;
            return self.node(Node::Bin(Bin::Pow, Box::new(base), Box::new(exp)), col);
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Node, ExprError> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Num(v) => {
                self.bump();
                Ok(Node::Num(v))
            }
            Tok::Op("(") => {
                self.bump();
                let inner = self.expr()?;
                if !self.eat_op(")") {
                    return self.err(format!("expected `)`, found {}", self.found()));
                }
                Ok(inner)
            }
            Tok::Name(mut name) => {
                self.bump();
                if name == "math" {
                    if !self.eat_op(".") {
                        return self
                            .err(format!("expected `.` after `math`, found {}", self.found()));
                    }
                    match self.peek().clone() {
                        Tok::Name(n) => {
                            self.bump();
                            name = n;
                        }
                        _ => {
                            return self.err(format!(
                                "expected a name after `math.`, found {}",
                                self.found()
                            ))
                        }
                    }
                }
                if name == self.var {
                    return Ok(Node::Var);
                }
                match name.as_str() {
                    "pi" => return Ok(Node::Num(std::f64::consts::PI)),
                    "e" => return Ok(Node::Num(std::f64::consts::E)),
                    _ => {}
                }
                const FUNCS: &[&str] = &[
                    "min", "max", "exp", "log", "sqrt", "cos", "sin", "floor", "ceil", "abs", "if",
                    "else", "lambda",
                ];
                if self.var.is_empty() && !FUNCS.contains(&name.as_str()) {
                    self.var = name;
                    return Ok(Node::Var);
                }
                let func = match name.as_str() {
                    "min" => Func::Min,
                    "max" => Func::Max,
                    "exp" => Func::Exp,
                    "log" => Func::Log,
                    "sqrt" => Func::Sqrt,
                    "cos" => Func::Cos,
                    "sin" => Func::Sin,
                    "floor" => Func::Floor,
                    "ceil" => Func::Ceil,
                    "abs" => Func::Abs,
                    _ => {
                        return Err(ExprError {
                            column: col,
                            message: format!(
                                "unknown name `{name}` (the variable is `{}`; functions: min, max, exp, log, sqrt, cos, sin, floor, ceil, abs; constants: pi, e)",
                                self.var
                            ),
                        })
                    }
                };
                if !self.eat_op("(") {
                    return self.err(format!(
                        "expected `(` after `{name}`, found {}",
                        self.found()
                    ));
                }
                let mut args = Vec::new();
                if !self.eat_op(")") {
                    loop {
                        args.push(self.expr()?);
                        if self.eat_op(")") {
                            break;
                        }
                        if !self.eat_op(",") {
                            return self
                                .err(format!("expected `,` or `)`, found {}", self.found()));
                        }
                    }
                }
                let arity_ok = match func {
                    Func::Min | Func::Max => !args.is_empty(),
                    Func::Log => args.len() == 1 || args.len() == 2,
                    _ => args.len() == 1,
                };
                if !arity_ok {
                    return Err(ExprError {
                        column: col,
                        message: format!("`{name}` given {} arguments", args.len()),
                    });
                }
                self.node(Node::Call(func, args), col)
            }
            _ => self.err(format!(
                "expected a number, `{}`, a function or `(`, found {}",
                self.var,
                self.found()
            )),
        }
    }
}

/// Maps a runtime operator string onto the static one the tokenizer produced.
fn leak(op: &str) -> &'static str {
    const ALL: &[&str] = &[
        "**", "//", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "(", ")", ",", "<", ">", ":",
        ".",
    ];
    ALL.iter().find(|o| **o == op).copied().unwrap_or("")
}

/// Python's `float // float`, as CPython computes it (`float_floor_div`).
fn floor_div(vx: f64, wx: f64) -> f64 {
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && (wx < 0.0) != (m < 0.0) {
        m += wx;
        div -= 1.0;
    }
    let _ = m;
    if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        (0.0f64).copysign(vx / wx)
    }
}

/// Python's `float % float` (`float_rem`).
fn py_mod(vx: f64, wx: f64) -> f64 {
    let mut m = vx % wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m += wx;
        }
    } else {
        m = (0.0f64).copysign(wx);
    }
    m
}

fn fail(msg: &str) -> Result<f64, String> {
    Err(msg.to_string())
}

fn eval(n: &Node, x: f64) -> Result<f64, String> {
    Ok(match n {
        Node::Num(v) => *v,
        Node::Var => x,
        Node::Neg(a) => -eval(a, x)?,
        Node::Bin(op, a, b) => {
            let (a, b) = (eval(a, x)?, eval(b, x)?);
            match op {
                Bin::Add => a + b,
                Bin::Sub => a - b,
                Bin::Mul => a * b,
                Bin::Div => {
                    if b == 0.0 {
                        return fail("division by zero");
                    }
                    a / b
                }
                Bin::FloorDiv => {
                    if b == 0.0 {
                        return fail("floor division by zero");
                    }
                    floor_div(a, b)
                }
                Bin::Mod => {
                    if b == 0.0 {
                        return fail("modulo by zero");
                    }
                    py_mod(a, b)
                }
                Bin::Pow => {
                    if a == 0.0 && b < 0.0 {
                        return fail("0 cannot be raised to a negative power");
                    }
                    if a < 0.0 && b.fract() != 0.0 && b.is_finite() {
                        return fail("a negative number raised to a fractional power is complex");
                    }
                    let r = a.powf(b);
                    if r.is_infinite() && a.is_finite() && b.is_finite() {
                        return fail("power overflows");
                    }
                    r
                }
            }
        }
        Node::Cmp(xs, ops) => {
            let mut left = eval(&xs[0], x)?;
            for (op, rhs) in ops.iter().zip(&xs[1..]) {
                let right = eval(rhs, x)?;
                let ok = match op {
                    Cmp::Lt => left < right,
                    Cmp::Le => left <= right,
                    Cmp::Gt => left > right,
                    Cmp::Ge => left >= right,
                    Cmp::Eq => left == right,
                    Cmp::Ne => left != right,
                };
                if !ok {
                    return Ok(0.0);
                }
                left = right;
            }
            1.0
        }
        Node::Cond(c, a, b) => {
            let c = eval(c, x)?;
            // Python truthiness: anything but zero (NaN is true).
            if c != 0.0 {
                eval(a, x)?
            } else {
                eval(b, x)?
            }
        }
        Node::Call(f, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, x))
                .collect::<Result<Vec<f64>, String>>()?;
            let a = vals.first().copied().unwrap_or(0.0);
            match f {
                // Python's min/max keep the first of equal values and compare with `<`.
                Func::Min => vals[1..].iter().fold(a, |m, &v| if v < m { v } else { m }),
                Func::Max => vals[1..].iter().fold(a, |m, &v| if v > m { v } else { m }),
                Func::Exp => {
                    let r = a.exp();
                    if r.is_infinite() && a.is_finite() {
                        return fail("exp overflows");
                    }
                    r
                }
                Func::Log => {
                    if a <= 0.0 {
                        return fail("log of a number <= 0");
                    }
                    match vals.get(1) {
                        Some(&b) => {
                            if b <= 0.0 || b == 1.0 {
                                return fail("log base must be > 0 and not 1");
                            }
                            a.ln() / b.ln()
                        }
                        None => a.ln(),
                    }
                }
                Func::Sqrt => {
                    if a < 0.0 {
                        return fail("sqrt of a negative number");
                    }
                    a.sqrt()
                }
                Func::Cos => a.cos(),
                Func::Sin => a.sin(),
                Func::Floor => a.floor(),
                Func::Ceil => a.ceil(),
                Func::Abs => a.abs(),
            }
        }
    })
}

impl Expr {
    /// Parses `source` as an expression in the variable `var` (or, for text written as
    /// `lambda name: body`, in `name`).
    pub fn parse(source: &str, var: &str) -> Result<Expr, ExprError> {
        if source.chars().count() > MAX_LEN {
            return Err(ExprError {
                column: MAX_LEN + 1,
                message: format!("expression longer than {MAX_LEN} characters"),
            });
        }
        let toks = tokenize(source)?;
        let mut p = Parser {
            toks,
            pos: 0,
            var: var.to_string(),
            depth: 0,
        };
        if p.eat_name("lambda") {
            match p.peek().clone() {
                Tok::Name(n) => {
                    p.bump();
                    p.var = n;
                }
                _ => {
                    return p.err(format!(
                        "expected the lambda's parameter, found {}",
                        p.found()
                    ))
                }
            }
            if !p.eat_op(":") {
                return p.err(format!("expected `:`, found {}", p.found()));
            }
        }
        let root = p.expr()?;
        if *p.peek() != Tok::End {
            return p.err(format!("unexpected {}", p.found()));
        }
        Ok(Expr {
            source: source.to_string(),
            var: p.var,
            root,
        })
    }

    /// Parses `source` as an expression in one variable, whatever its name: the first
    /// name that is not a function or constant (`epoch`, `x`, `step`, ...), or the
    /// parameter of `lambda name: body`.
    ///
    /// ```
    /// let e = lrsched::torch::expr::Expr::parse_any("0.5 ** x").unwrap();
    /// assert_eq!(e.eval(2.0).unwrap(), 0.25);
    /// assert!(lrsched::torch::expr::Expr::parse_any("x + y").is_err());
    /// ```
    pub fn parse_any(source: &str) -> Result<Expr, ExprError> {
        Expr::parse(source, "")
    }

    /// Whether the value depends on the variable (`"0.95"` does not, `"0.95 ** e"` does).
    ///
    /// ```
    /// use lrsched::torch::expr::Expr;
    /// assert!(!Expr::parse_any("lambda e: 0.5 * 2").unwrap().uses_var());
    /// assert!(Expr::parse_any("0.5 ** x").unwrap().uses_var());
    /// assert!(!Expr::parse_any("0.5 ** e").unwrap().uses_var()); // e is 2.718...
    /// ```
    pub fn uses_var(&self) -> bool {
        uses_var(&self.root)
    }

    /// The text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The expression's value with the variable set to `x`; an error where Python would
    /// raise (division by zero, `log` of a number <= 0, overflow).
    pub fn eval(&self, x: f64) -> Result<f64, String> {
        eval(&self.root, x)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Expr::parse_any(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid expression \"{text}\": {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str, x: f64) -> f64 {
        Expr::parse(s, "epoch").unwrap().eval(x).unwrap()
    }

    #[test]
    fn python_precedence() {
        assert_eq!(ev("-2 ** 2", 0.0), -4.0);
        assert_eq!(ev("2 ** -1", 0.0), 0.5);
        assert_eq!(ev("2 ** 3 ** 2", 0.0), 512.0);
        assert_eq!(ev("1 + 2 * 3", 0.0), 7.0);
        assert_eq!(ev("(1 + 2) * 3", 0.0), 9.0);
        assert_eq!(ev("10 - 2 - 3", 0.0), 5.0);
        assert_eq!(ev("7 // 2", 0.0), 3.0);
        assert_eq!(ev("-7 // 2", 0.0), -4.0);
        assert_eq!(ev("-7 % 3", 0.0), 2.0);
        assert_eq!(ev("7 % -3", 0.0), -2.0);
        assert_eq!(ev("0.95 ** epoch", 3.0), 0.95f64.powf(3.0));
        assert_eq!(ev("1 / (epoch + 1)", 3.0), 0.25);
        assert_eq!(ev("min(1.0, (epoch + 1) / 10)", 3.0), 0.4);
        assert_eq!(ev("math.cos(math.pi * epoch)", 1.0), -1.0);
    }

    #[test]
    fn conditionals_and_lambda() {
        assert_eq!(ev("epoch / 5 if epoch < 5 else 1.0", 2.0), 0.4);
        assert_eq!(ev("epoch / 5 if epoch < 5 else 1.0", 7.0), 1.0);
        assert_eq!(ev("1 if 0 < epoch <= 2 else 0", 2.0), 1.0);
        assert_eq!(ev("1 if 0 < epoch <= 2 else 0", 3.0), 0.0);
        assert_eq!(ev("lambda e: e * 2", 3.0), 6.0);
        let any = Expr::parse_any("lambda e: e * 2").unwrap();
        assert_eq!(any.eval(3.0).unwrap(), 6.0);
        let any = Expr::parse_any("min(1, step / 4) * e ** 0").unwrap();
        assert_eq!(any.eval(2.0).unwrap(), 0.5);
    }

    #[test]
    fn errors_give_columns() {
        let e = Expr::parse("epoch + foo", "epoch").unwrap_err();
        assert_eq!(e.column, 9);
        let e = Expr::parse("epoch $ 2", "epoch").unwrap_err();
        assert_eq!(e.column, 7);
        let e = Expr::parse("(epoch", "epoch").unwrap_err();
        assert_eq!(e.column, 7);
        assert!(Expr::parse("", "epoch").is_err());
        assert!(Expr::parse("min()", "epoch").is_err());
        assert!(Expr::parse("1 2", "epoch").is_err());
    }

    #[test]
    fn runtime_errors_where_python_raises() {
        let e = Expr::parse("1 / epoch", "epoch").unwrap();
        assert!(e.eval(0.0).is_err());
        assert!(Expr::parse("log(epoch)", "epoch")
            .unwrap()
            .eval(0.0)
            .is_err());
        assert!(Expr::parse("10.0 ** epoch", "epoch")
            .unwrap()
            .eval(400.0)
            .is_err());
        assert!(Expr::parse("(-1) ** 0.5", "epoch")
            .unwrap()
            .eval(0.0)
            .is_err());
    }

    #[test]
    fn deep_or_huge_input_is_refused_not_crashed() {
        let deep = "(".repeat(100_000) + "1" + &")".repeat(100_000);
        assert!(Expr::parse(&deep, "epoch").is_err());
        let long = "1".to_string() + &"+1".repeat(1000);
        assert!(Expr::parse(&long, "epoch").is_err());
        let minus = "-".repeat(1000) + "1";
        assert!(Expr::parse(&minus, "epoch").is_err());
        let pow = "2".to_string() + &"**2".repeat(1000);
        assert!(Expr::parse(&pow, "epoch").is_err());
        let ok = "1".to_string() + &"+1".repeat(50);
        assert_eq!(ev(&ok, 0.0), 51.0);
    }
}
