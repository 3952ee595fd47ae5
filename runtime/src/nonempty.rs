//! `NonEmpty<T>`: a required element that repeats holds at least one value.

use std::ops::{Deref, DerefMut};

/// One or more values: the type of a required (`R`) element that may repeat.
///
/// Reads like a slice (`names[0]`, `names.iter()`), and cannot be built empty: a required
/// repeating element cannot be left out. Its default holds one default value, which is what a
/// lenient parse keeps when the element is missing (and reports it).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    /// One value.
    pub fn new(first: T) -> NonEmpty<T> {
        NonEmpty(vec![first])
    }

    /// The values of `values`, or `None` when it is empty.
    pub fn from_vec(values: Vec<T>) -> Option<NonEmpty<T>> {
        (!values.is_empty()).then_some(NonEmpty(values))
    }

    /// The first value.
    pub fn first(&self) -> &T {
        &self.0[0]
    }

    /// Adds a value at the end.
    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    /// The values as a vector.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T: Default> Default for NonEmpty<T> {
    fn default() -> Self {
        NonEmpty(vec![T::default()])
    }
}

impl<T> Deref for NonEmpty<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for NonEmpty<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T> From<T> for NonEmpty<T> {
    fn from(first: T) -> NonEmpty<T> {
        NonEmpty::new(first)
    }
}

impl<'a, T> IntoIterator for &'a NonEmpty<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for NonEmpty<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for NonEmpty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// Builds a [`NonEmpty`] from one or more values: `nonempty![a, b]`.
#[macro_export]
macro_rules! nonempty {
    ($first:expr $(, $rest:expr)* $(,)?) => {{
        let mut values = $crate::NonEmpty::new($first);
        $(values.push($rest);)*
        values
    }};
}
