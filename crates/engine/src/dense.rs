//! Dense vectors as they are stored: rows of one element type back to back.
//!
//! A vector's `datatype` decides the element: `float32`, `float16` (IEEE 754
//! binary16 bit patterns in a `u16`, half the bytes) or `uint8` (a quarter).
//! Values are brought to the element type once, when a write is validated
//! ([`round_to`]), so the log, the stored rows and what a read returns agree
//! to the bit; a query is brought to the same type before it is scored, as
//! Qdrant does (`uint8`: `x as u8`, saturating, fraction dropped; Cosine
//! `uint8` vectors are not normalised, the kernel divides by the norms).

use crate::config::{Datatype, Distance};
use crate::distance::{f16_to_f32, f32_to_f16};

/// One element type of stored dense vectors, with its kernels.
pub(crate) trait Element: bytemuck::Pod + Default + Send + Sync + 'static {
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;
    /// [`Distance::scorer`] for this element type: the reported score.
    fn scorer(distance: Distance) -> fn(&[Self], &[Self]) -> f32;
    /// [`Distance::similarity_fn`] for this element type: higher is closer.
    fn similarity_fn(distance: Distance) -> fn(&[Self], &[Self]) -> f32;
}

impl Element for f32 {
    fn from_f32(x: f32) -> Self {
        x
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn scorer(distance: Distance) -> fn(&[f32], &[f32]) -> f32 {
        distance.scorer()
    }
    fn similarity_fn(distance: Distance) -> fn(&[f32], &[f32]) -> f32 {
        distance.similarity_fn()
    }
}

/// `float16`, as bit patterns.
impl Element for u16 {
    fn from_f32(x: f32) -> Self {
        f32_to_f16(x)
    }
    fn to_f32(self) -> f32 {
        f16_to_f32(self)
    }
    fn scorer(distance: Distance) -> fn(&[u16], &[u16]) -> f32 {
        distance.scorer_f16()
    }
    fn similarity_fn(distance: Distance) -> fn(&[u16], &[u16]) -> f32 {
        distance.similarity_fn_f16()
    }
}

impl Element for u8 {
    fn from_f32(x: f32) -> Self {
        // `as` saturates and drops the fraction: 300.0 -> 255, -1.0 -> 0, 1.9 -> 1.
        x as u8
    }
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn scorer(distance: Distance) -> fn(&[u8], &[u8]) -> f32 {
        distance.scorer_u8()
    }
    fn similarity_fn(distance: Distance) -> fn(&[u8], &[u8]) -> f32 {
        distance.similarity_fn_u8()
    }
}

/// The element type a vector's `datatype` stores. `turbo4` keeps float32
/// rows (its codes are a quantization, see `quantization.rs`).
pub(crate) fn stored_type(datatype: Option<Datatype>) -> ElementType {
    match datatype {
        Some(Datatype::Float16) => ElementType::F16,
        Some(Datatype::Uint8) => ElementType::U8,
        Some(Datatype::Float32 | Datatype::Turbo4) | None => ElementType::F32,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ElementType {
    F32,
    F16,
    U8,
}

impl ElementType {
    /// The byte that names the type in checkpoint files.
    pub fn tag(self) -> u8 {
        match self {
            ElementType::F32 => 0,
            ElementType::F16 => 1,
            ElementType::U8 => 2,
        }
    }

    pub fn from_tag(tag: u8) -> Option<ElementType> {
        match tag {
            0 => Some(ElementType::F32),
            1 => Some(ElementType::F16),
            2 => Some(ElementType::U8),
            _ => None,
        }
    }

    pub fn size(self) -> usize {
        match self {
            ElementType::F32 => 4,
            ElementType::F16 => 2,
            ElementType::U8 => 1,
        }
    }
}

/// Brings f32 values to what the element type can hold, in place: the value
/// a read of the stored vector returns.
pub(crate) fn round_to(ty: ElementType, v: &mut [f32]) {
    match ty {
        ElementType::F32 => {}
        ElementType::F16 => v.iter_mut().for_each(|x| *x = f16_to_f32(f32_to_f16(*x))),
        ElementType::U8 => v.iter_mut().for_each(|x| *x = f32::from(*x as u8)),
    }
}

/// Rows of `dim` elements back to back, in the column's element type.
#[derive(Debug, Clone)]
pub(crate) enum DenseData {
    F32(Vec<f32>),
    F16(Vec<u16>),
    U8(Vec<u8>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`DenseData`].
macro_rules! with_rows {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            DenseData::F32($v) => $body,
            DenseData::F16($v) => $body,
            DenseData::U8($v) => $body,
        }
    };
}

impl DenseData {
    pub fn new(ty: ElementType) -> DenseData {
        match ty {
            ElementType::F32 => DenseData::F32(Vec::new()),
            ElementType::F16 => DenseData::F16(Vec::new()),
            ElementType::U8 => DenseData::U8(Vec::new()),
        }
    }

    /// Number of elements (rows × dim).
    pub fn len(&self) -> usize {
        with_rows!(self, v => v.len())
    }

    /// Appends `n` zero elements.
    pub fn extend_zeros(&mut self, n: usize) {
        with_rows!(self, v => v.resize(v.len() + n, Default::default()))
    }

    /// Writes f32 values (already [`round_to`] this type) at `at`.
    pub fn write_f32(&mut self, at: usize, values: &[f32]) {
        fn write<E: Element>(dst: &mut [E], src: &[f32]) {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = E::from_f32(s));
        }
        with_rows!(self, v => write(&mut v[at..at + values.len()], values))
    }

    /// Elements `at..at + n` as f32.
    pub fn read_f32(&self, at: usize, n: usize) -> Vec<f32> {
        fn read<E: Element>(src: &[E]) -> Vec<f32> {
            src.iter().map(|&x| x.to_f32()).collect()
        }
        with_rows!(self, v => read(&v[at..at + n]))
    }

    /// Elements `at..at + n`, as a typed copy (for the graveyard of an index).
    pub fn row_copy(&self, at: usize, n: usize) -> DenseRow {
        match self {
            DenseData::F32(v) => DenseRow::F32(v[at..at + n].into()),
            DenseData::F16(v) => DenseRow::F16(v[at..at + n].into()),
            DenseData::U8(v) => DenseRow::U8(v[at..at + n].into()),
        }
    }

    /// The rows in little-endian bytes, for checkpoint files.
    pub fn write_le(&self, out: &mut Vec<u8>) {
        match self {
            DenseData::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            DenseData::F16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            DenseData::U8(v) => out.extend_from_slice(v),
        }
    }

    /// Reads rows written by [`DenseData::write_le`].
    pub fn read_le(ty: ElementType, raw: &[u8]) -> DenseData {
        match ty {
            ElementType::F32 => DenseData::F32(
                raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
            ),
            ElementType::F16 => DenseData::F16(
                raw.chunks_exact(2).map(|c| u16::from_le_bytes(c.try_into().expect("2 bytes"))).collect(),
            ),
            ElementType::U8 => DenseData::U8(raw.to_vec()),
        }
    }

}

/// One typed row kept apart from its column.
#[derive(Debug, Clone)]
pub(crate) enum DenseRow {
    F32(Box<[f32]>),
    F16(Box<[u16]>),
    U8(Box<[u8]>),
}

/// Access to the typed slices of [`DenseData`] and [`DenseRow`] from code
/// generic over the element type.
pub(crate) trait Typed: Element {
    fn rows(data: &DenseData) -> Option<&[Self]>;
    fn row(row: &DenseRow) -> Option<&[Self]>;
}

impl Typed for f32 {
    fn rows(data: &DenseData) -> Option<&[f32]> {
        match data {
            DenseData::F32(v) => Some(v),
            _ => None,
        }
    }
    fn row(row: &DenseRow) -> Option<&[f32]> {
        match row {
            DenseRow::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl Typed for u16 {
    fn rows(data: &DenseData) -> Option<&[u16]> {
        match data {
            DenseData::F16(v) => Some(v),
            _ => None,
        }
    }
    fn row(row: &DenseRow) -> Option<&[u16]> {
        match row {
            DenseRow::F16(v) => Some(v),
            _ => None,
        }
    }
}

impl Typed for u8 {
    fn rows(data: &DenseData) -> Option<&[u8]> {
        match data {
            DenseData::U8(v) => Some(v),
            _ => None,
        }
    }
    fn row(row: &DenseRow) -> Option<&[u8]> {
        match row {
            DenseRow::U8(v) => Some(v),
            _ => None,
        }
    }
}

/// A query brought to a column's element type, ready to score rows with.
pub(crate) struct TypedQuery<E> {
    pub values: Vec<E>,
}

impl<E: Element> TypedQuery<E> {
    pub fn new(query: &[f32]) -> Self {
        TypedQuery { values: query.iter().map(|&x| E::from_f32(x)).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint8_rounding_saturates_and_truncates_as_qdrant_does() {
        let mut v = vec![-1.0, 0.4, 1.9, 254.6, 300.0];
        round_to(ElementType::U8, &mut v);
        assert_eq!(v, vec![0.0, 0.0, 1.0, 254.0, 255.0]);
    }

    #[test]
    fn float16_rounding_keeps_what_half_precision_holds() {
        let mut v = vec![1.0, 0.1, 65504.0, 1.0e-8];
        round_to(ElementType::F16, &mut v);
        assert_eq!(v[0], 1.0);
        assert!((v[1] - 0.1).abs() < 1e-4 && v[1] != 0.1);
        assert_eq!(v[2], 65504.0);
        assert_eq!(v[3], 0.0);
    }

    #[test]
    fn rows_round_trip_through_bytes_in_each_type() {
        for ty in [ElementType::F32, ElementType::F16, ElementType::U8] {
            let mut values = vec![0.0, 1.0, 2.5, 200.0];
            round_to(ty, &mut values);
            let mut data = DenseData::new(ty);
            data.extend_zeros(4);
            data.write_f32(0, &values);
            let mut bytes = Vec::new();
            data.write_le(&mut bytes);
            assert_eq!(bytes.len(), 4 * ty.size());
            assert_eq!(DenseData::read_le(ty, &bytes).read_f32(0, 4), values);
        }
    }
}
