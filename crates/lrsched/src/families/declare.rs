//! `family!`: a family's parameters declared once.
//!
//! Each parameter is stated once, with its doc, type, default (or none: required),
//! check and builder; the macro writes what used to repeat that default in four places
//! (field doc, serde helper, `new()`, catalog string):
//!
//! - the struct, with its docs and serde attributes: `default` and `skip_serializing_if`
//!   both come from the one stated default, so a config omits a parameter at its default
//!   and a printed schedule leaves it out (the golden fixtures pin that output);
//! - the constructor taking the required parameters in order (`new`, or a private one a
//!   hand-written `new` builds on);
//! - a `with_*` builder for each optional parameter that names one;
//! - `declared_checks`, the per-parameter checks `validate` runs before any cross-field
//!   check the family writes by hand;
//! - `PARAMS`, the catalog row's `key, key=default` list (`lrsched list`).
//!
//! A parameter reads
//!
//! ```text
//! /// doc
//! name: type [= default] [, check FN[(args)]] [, with BUILDER "builder doc"];
//! ```
//!
//! where a default is a literal (`0`, `0.5`, `-7`, `false`: the catalog shows it as
//! written, the value is the literal cast to the type), `none` (an `Option` left out), or
//! `{expr} "shown"` (an enum value and how a config spells it). `= LIT keep` keeps the
//! parameter in the printed form even at its default (two families print it always).
//! `check FN` calls `crate::check::FN(family, "name", value, args...)`. An `Option`
//! takes `check_some FN` (the check on its value when there is one) and
//! `with_some BUILDER(T) "doc"` (a builder taking the value itself).
//! `name: child;` is a wrapper's inner schedule: a `Box<AnySchedule>` field that the
//! constructor takes as `impl Into<AnySchedule>`. `state name: type;` is a private field
//! the schedule keeps while it runs: not a parameter, not serialised, starting at its
//! `Default`.
//!
//! Adding a parameter to a family is one line in its declaration (plus its use in
//! `value`). Combinators use it too.

/// Declares a family: see the module docs.
macro_rules! family {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($family:literal) {
            $($fields:tt)*
        }
        $(#[doc = $cdoc:literal])*
        $cvis:vis fn $ctor:ident;
    ) => {
        family!(@field
            head [$(#[$meta])* $name $family [$(#[doc = $cdoc])* $cvis fn $ctor]]
            fields [] inits [] args [] params [] [] checks [] builders [] helpers []
            supply [
                (d0 is_d0 "__declared::d0" "__declared::is_d0")
                (d1 is_d1 "__declared::d1" "__declared::is_d1")
                (d2 is_d2 "__declared::d2" "__declared::is_d2")
                (d3 is_d3 "__declared::d3" "__declared::is_d3")
                (d4 is_d4 "__declared::d4" "__declared::is_d4")
                (d5 is_d5 "__declared::d5" "__declared::is_d5")
                (d6 is_d6 "__declared::d6" "__declared::is_d6")
                (d7 is_d7 "__declared::d7" "__declared::is_d7")
                (d8 is_d8 "__declared::d8" "__declared::is_d8")
                (d9 is_d9 "__declared::d9" "__declared::is_d9")
                (d10 is_d10 "__declared::d10" "__declared::is_d10")
                (d11 is_d11 "__declared::d11" "__declared::is_d11")
                (d12 is_d12 "__declared::d12" "__declared::is_d12")
                (d13 is_d13 "__declared::d13" "__declared::is_d13")
                (d14 is_d14 "__declared::d14" "__declared::is_d14")
                (d15 is_d15 "__declared::d15" "__declared::is_d15")
            ]
            rest [$($fields)*]
        );
    };

    // The one inner schedule of a wrapper: boxed, the constructor takes anything that
    // becomes an `AnySchedule`.
    (@field head $head:tt
        fields [$($fields:tt)*] inits [$($inits:tt)*] args [$($args:tt)*]
        params [$($params:tt)*] $opt:tt
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [$(#[doc = $doc:literal])* $f:ident : child; $($rest:tt)*]
    ) => {
        family!(@field head $head
            fields [$($fields)* $(#[doc = $doc])* pub $f: Box<$crate::AnySchedule>,]
            inits [$($inits)* $f: Box::new($f.into()),]
            args [$($args)* $f: impl Into<$crate::AnySchedule>,]
            params [$($params)* {stringify!($f)}] $opt
            checks $checks builders $builders helpers $helpers supply $supply
            rest [$($rest)*]
        );
    };

    // A required parameter: a constructor argument, no serde default.
    (@field head $head:tt
        fields [$($fields:tt)*] inits [$($inits:tt)*] args [$($args:tt)*]
        params [$($params:tt)*] $opt:tt
        checks [$($checks:tt)*] builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [
            $(#[doc = $doc:literal])*
            $f:ident : $t:ty
            $(, check $c:ident $(($($ca:expr),*))?)?
            ;
            $($rest:tt)*
        ]
    ) => {
        family!(@field head $head
            fields [$($fields)* $(#[doc = $doc])* pub $f: $t,]
            inits [$($inits)* $f,]
            args [$($args)* $f: $t,]
            params [$($params)* {stringify!($f)}] $opt
            checks [$($checks)* $({plain $f $c [$($($ca),*)?]})?]
            builders $builders helpers $helpers supply $supply
            rest [$($rest)*]
        );
    };

    // State kept while running: private, not serialised, starts at its `Default`.
    (@field head $head:tt
        fields [$($fields:tt)*] inits [$($inits:tt)*] args $args:tt params $params:tt $opt:tt
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [state $f:ident : $t:ty; $($rest:tt)*]
    ) => {
        family!(@field head $head
            fields [$($fields)* #[cfg_attr(feature = "serde", serde(skip))] $f: $t,]
            inits [$($inits)* $f: ::core::default::Default::default(),]
            args $args params $params $opt checks $checks builders $builders helpers $helpers
            supply $supply rest [$($rest)*]
        );
    };

    // An optional parameter, in its one written form: `= {value} (shown) [skip]`, where
    // `shown` is how the catalog writes the default and `skip` (present unless `keep`)
    // makes a printed form leave the parameter out at its default. It takes the next
    // pair of helper names from `supply` for its serde attributes.
    (@field head $head:tt
        fields [$($fields:tt)*] inits [$($inits:tt)*] args $args:tt params $params:tt [$($opt:tt)*]
        checks [$($checks:tt)*] builders [$($builders:tt)*] helpers [$($helpers:tt)*]
        supply [($d:ident $is_d:ident $d_path:literal $is_d_path:literal) $($supply:tt)*]
        rest [
            $(#[doc = $doc:literal])*
            $f:ident : $t:ty = {$value:expr} ($($shown:tt)*) [$($skip:ident)?]
            $(, check $c:ident $(($($ca:expr),*))?)?
            $(, check_some $cs:ident $(($($csa:expr),*))?)?
            $(, with $w:ident $wdoc:literal)?
            $(, with_some $ws:ident($wt:ty) $wsdoc:literal)?
            ;
            $($rest:tt)*
        ]
    ) => {
        family!(@field head $head
            fields [$($fields)* $(#[doc = $doc])*
                #[cfg_attr(feature = "serde", serde(default = $d_path $(, $skip = $is_d_path)?))]
                pub $f: $t,]
            inits [$($inits)* $f: $value,]
            args $args
            params $params [$($opt)* {stringify!($f), "=", $($shown)*}]
            checks [$($checks)*
                $({plain $f $c [$($($ca),*)?]})?
                $({some $f $cs [$($($csa),*)?]})?]
            builders [$($builders)*
                $(
                    #[doc = $wdoc]
                    pub fn $w(mut self, $f: $t) -> Self {
                        self.$f = $f;
                        self
                    }
                )?
                $(
                    #[doc = $wsdoc]
                    pub fn $ws(mut self, $f: $wt) -> Self {
                        self.$f = Some($f);
                        self
                    }
                )?]
            helpers [$($helpers)*
                pub(super) fn $d() -> $t {
                    $value
                }
                pub(super) fn $is_d(v: &$t) -> bool {
                    *v == $value
                }
            ]
            supply [$($supply)*]
            rest [$($rest)*]
        );
    };

    // The other ways to write a default, rewritten to the one above: `none` (an `Option`
    // left out), `{value} "shown"` (an enum), a literal (the value is the literal cast to
    // the type, the catalog shows it as written), `LITERAL keep`.
    (@field head $head:tt fields $fields:tt inits $inits:tt args $args:tt params $params:tt $opt:tt
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [$(#[doc = $doc:literal])* $f:ident : $t:ty = none $($tail:tt)*]
    ) => {
        family!(@field head $head fields $fields inits $inits args $args params $params $opt
            checks $checks builders $builders helpers $helpers supply $supply
            rest [$(#[doc = $doc])* $f: $t = {None} ("none") [skip_serializing_if] $($tail)*]);
    };
    (@field head $head:tt fields $fields:tt inits $inits:tt args $args:tt params $params:tt $opt:tt
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [$(#[doc = $doc:literal])* $f:ident : $t:ty = {$value:expr} $shown:literal $($tail:tt)*]
    ) => {
        family!(@field head $head fields $fields inits $inits args $args params $params $opt
            checks $checks builders $builders helpers $helpers supply $supply
            rest [$(#[doc = $doc])* $f: $t = {$value} ($shown) [skip_serializing_if] $($tail)*]);
    };
    (@field head $head:tt fields $fields:tt inits $inits:tt args $args:tt params $params:tt $opt:tt
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [$(#[doc = $doc:literal])* $f:ident : $t:ty = $lit:literal keep $($tail:tt)*]
    ) => {
        family!(@field head $head fields $fields inits $inits args $args params $params $opt
            checks $checks builders $builders helpers $helpers supply $supply
            rest [$(#[doc = $doc])* $f: $t = {$lit as $t} (stringify!($lit)) [] $($tail)*]);
    };
    (@field head $head:tt fields $fields:tt inits $inits:tt args $args:tt params $params:tt $opt:tt
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt
        rest [$(#[doc = $doc:literal])* $f:ident : $t:ty = $lit:literal $($tail:tt)*]
    ) => {
        family!(@field head $head fields $fields inits $inits args $args params $params $opt
            checks $checks builders $builders helpers $helpers supply $supply
            rest [$(#[doc = $doc])* $f: $t = {$lit as $t} (stringify!($lit))
                [skip_serializing_if] $($tail)*]);
    };

    (@check $s:ident $family:literal plain $f:ident $c:ident [$($ca:expr),*]) => {
        $crate::check::$c($family, stringify!($f), $s.$f $(, $ca)*)?
    };
    (@check $s:ident $family:literal some $f:ident $c:ident [$($ca:expr),*]) => {
        if let Some(v) = $s.$f {
            $crate::check::$c($family, stringify!($f), v $(, $ca)*)?
        }
    };

    // Every parameter taken: the catalog lists the required ones first.
    (@field head $head:tt fields $fields:tt inits $inits:tt args $args:tt
        params [$($params:tt)*] [$($opt:tt)*]
        checks $checks:tt builders $builders:tt helpers $helpers:tt supply $supply:tt rest []
    ) => {
        family!(@emit head $head fields $fields inits $inits args $args
            params [$($params)* $($opt)*]
            checks $checks builders $builders helpers $helpers);
    };

    (@emit
        head [$(#[$meta:meta])* $name:ident $family:literal
            [$(#[doc = $cdoc:literal])* $cvis:vis fn $ctor:ident]]
        fields [$($fields:tt)*] inits [$($inits:tt)*] args [$($args:tt)*]
        params [{$($first:tt)*} $({$($param:tt)*})*]
        checks [$({$kind:ident $cf:ident $c:ident [$($ca:tt)*]})*]
        builders [$($builders:tt)*] helpers [$($helpers:tt)*]
    ) => {        $(#[$meta])*
        #[cfg_attr(
            feature = "serde",
            derive(serde::Serialize, serde::Deserialize),
            serde(deny_unknown_fields)
        )]
        pub struct $name {
            $($fields)*
        }

        // What serde calls for the defaults: `default = "..."` names a function, and a
        // macro cannot make up names, so each optional parameter takes the next pair from
        // `supply` (16: add pairs there for a family with more).
        #[cfg(feature = "serde")]
        #[allow(dead_code, clippy::unnecessary_cast, clippy::float_cmp)]
        mod __declared {
            #[allow(unused_imports)]
            use super::*;
            $($helpers)*
        }

        impl $name {
            /// The catalog row's parameters: `key` for a required one, `key=default`.
            #[allow(dead_code)]
            pub(crate) const PARAMS: &'static str =
                concat!($($first)* $(, ", ", $($param)*)*);

            $(#[doc = $cdoc])*
            #[allow(clippy::unnecessary_cast)]
            $cvis fn $ctor($($args)*) -> Self {
                $name { $($inits)* }
            }

            $($builders)*

            /// The checks each parameter states in its declaration, in order.
            fn declared_checks(&self) -> Result<(), $crate::ScheduleError> {
                $(family!(@check self $family $kind $cf $c [$($ca)*]);)*
                Ok(())
            }
        }
    };
}

pub(crate) use family;
