//! Dense constant tensors, converted to and from ONNX `TensorProto`.
//!
//! Only what graph rewriting needs: the element types that quantized models
//! and shape constants use, stored row-major.

use super::proto::{TensorProto, tensor_proto::DataType};

/// Element storage of a constant tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// Signed bytes.
    I8(Vec<i8>),
    /// Unsigned bytes.
    U8(Vec<u8>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

impl Data {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` widened to f64 (exact for every stored type but large i64).
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            Data::F32(v) => f64::from(v[i]),
            Data::I8(v) => f64::from(v[i]),
            Data::U8(v) => f64::from(v[i]),
            Data::I32(v) => f64::from(v[i]),
            Data::I64(v) => v[i] as f64,
        }
    }
}

/// A constant tensor: dimensions and row-major data.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions (empty for a scalar).
    pub dims: Vec<i64>,
    /// The elements, row-major, in the tensor's element type.
    pub data: Data,
}

impl Tensor {
    /// Number of elements the dimensions describe.
    pub fn numel(&self) -> usize {
        self.dims.iter().map(|&d| d.max(0) as usize).product()
    }

    /// Decodes a `TensorProto` with inline data (raw or typed fields).
    pub fn from_proto(t: &TensorProto) -> Result<Self, String> {
        let name = t.name();
        if !t.external_data.is_empty() {
            return Err(format!("tensor `{name}` keeps its data in an external file, which is not supported"));
        }
        let dims = t.dims.clone();
        let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
        let dt = DataType::try_from(t.data_type()).map_err(|_| format!("tensor `{name}`: unknown data type {}", t.data_type()))?;
        let data = match dt {
            DataType::Float => Data::F32(match raw {
                Some(r) => le_chunks::<4>(r, name)?.map(f32::from_le_bytes).collect(),
                None => t.float_data.clone(),
            }),
            DataType::Int8 => Data::I8(match raw {
                Some(r) => r.iter().map(|&b| b as i8).collect(),
                None => t.int32_data.iter().map(|&v| v as i8).collect(),
            }),
            DataType::Uint8 => Data::U8(match raw {
                Some(r) => r.to_vec(),
                None => t.int32_data.iter().map(|&v| v as u8).collect(),
            }),
            DataType::Int32 => Data::I32(match raw {
                Some(r) => le_chunks::<4>(r, name)?.map(i32::from_le_bytes).collect(),
                None => t.int32_data.clone(),
            }),
            DataType::Int64 => Data::I64(match raw {
                Some(r) => le_chunks::<8>(r, name)?.map(i64::from_le_bytes).collect(),
                None => t.int64_data.clone(),
            }),
            other => return Err(format!("tensor `{name}`: data type {other:?} is not supported")),
        };
        let tensor = Tensor { dims, data };
        if tensor.numel() != tensor.data.len() {
            return Err(format!("tensor `{name}`: dims {:?} need {} elements, found {}", tensor.dims, tensor.numel(), tensor.data.len()));
        }
        Ok(tensor)
    }

    /// Encodes as a `TensorProto` with little-endian `raw_data`.
    pub fn to_proto(&self, name: &str) -> TensorProto {
        let (dt, raw): (DataType, Vec<u8>) = match &self.data {
            Data::F32(v) => (DataType::Float, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Data::I8(v) => (DataType::Int8, v.iter().map(|&x| x as u8).collect()),
            Data::U8(v) => (DataType::Uint8, v.clone()),
            Data::I32(v) => (DataType::Int32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Data::I64(v) => (DataType::Int64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        };
        TensorProto {
            dims: self.dims.clone(),
            data_type: Some(dt as i32),
            name: Some(name.to_string()),
            raw_data: Some(raw),
            ..Default::default()
        }
    }
}

fn le_chunks<'a, const N: usize>(raw: &'a [u8], name: &str) -> Result<impl Iterator<Item = [u8; N]> + 'a, String> {
    if !raw.len().is_multiple_of(N) {
        return Err(format!("tensor `{name}`: raw data length {} is not a multiple of {N}", raw.len()));
    }
    Ok(raw.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_round_trip_for_every_type() {
        for data in [
            Data::F32(vec![1.5, -2.0, 0.25, 8.0]),
            Data::I8(vec![-128, 0, 5, 127]),
            Data::U8(vec![0, 1, 200, 255]),
            Data::I32(vec![-7, 0, 9, 1 << 30]),
            Data::I64(vec![-1, 0, 1024, i64::MAX]),
        ] {
            let t = Tensor { dims: vec![2, 2], data };
            assert_eq!(Tensor::from_proto(&t.to_proto("t")).unwrap(), t);
        }
    }

    #[test]
    fn typed_fields_decode_like_raw_data() {
        let p =
            TensorProto { dims: vec![3], data_type: Some(DataType::Float as i32), float_data: vec![1.0, 2.0, 3.0], ..Default::default() };
        assert_eq!(Tensor::from_proto(&p).unwrap().data, Data::F32(vec![1.0, 2.0, 3.0]));
        let bad = TensorProto { dims: vec![4], ..p };
        assert!(Tensor::from_proto(&bad).is_err());
    }
}
