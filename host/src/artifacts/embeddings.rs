//! `embeddings.parquet`: one row per face chip.
//!
//! Columns: `file` (the chip's file name, string) then `dim_0 .. dim_{D-1}`
//! (float32), the shape pandas and polars read as a plain data frame. The
//! recognizer's name and sha256 ride along as Parquet key-value metadata so
//! that later stages (the gallery export) know which model made the vectors.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::io::write_atomic;
use crate::error::{Error, Result};

fn parquet_err(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> Error + '_ {
    move |source| Error::Parquet { path: path.to_path_buf(), source }
}

fn shape_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Table { path: path.to_path_buf(), reason: reason.into() }
}

/// Embeddings of named chips, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingTable {
    /// Chip file names, one per row.
    pub files: Vec<String>,
    pub dim: usize,
    /// `files.len() * dim` values.
    pub data: Vec<f32>,
    /// Recognizer name, if recorded.
    pub recognizer: Option<String>,
    /// Recognizer sha256, if recorded.
    pub recognizer_sha256: Option<String>,
}

impl EmbeddingTable {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The embedding of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Builds a table from `(file, embedding)` pairs of equal length.
    pub fn from_rows(rows: Vec<(String, Vec<f32>)>, dim: usize) -> Result<Self> {
        let mut t = EmbeddingTable { dim, ..Default::default() };
        for (f, v) in rows {
            if v.len() != dim {
                return Err(shape_err(Path::new(&f), format!("embedding has {} values, expected {dim}", v.len())));
            }
            t.files.push(f);
            t.data.extend(v);
        }
        Ok(t)
    }

    /// Writes the table as Parquet, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut fields = vec![Field::new("file", DataType::Utf8, false)];
        fields.extend((0..self.dim).map(|d| Field::new(format!("dim_{d}"), DataType::Float32, false)));
        let schema = Arc::new(Schema::new(fields));
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(self.files.clone()))];
        for d in 0..self.dim {
            let col: Float32Array = (0..self.len()).map(|r| self.data[r * self.dim + d]).collect();
            columns.push(Arc::new(col));
        }
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| shape_err(path, e.to_string()))?;
        let mut kv = Vec::new();
        if let Some(r) = &self.recognizer {
            kv.push(KeyValue::new("rollcall.recognizer".into(), r.clone()));
        }
        if let Some(s) = &self.recognizer_sha256 {
            kv.push(KeyValue::new("rollcall.recognizer_sha256".into(), s.clone()));
        }
        let props =
            WriterProperties::builder().set_compression(Compression::SNAPPY).set_key_value_metadata((!kv.is_empty()).then_some(kv)).build();
        let mut buf = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buf, schema, Some(props)).map_err(parquet_err(path))?;
        writer.write(&batch).map_err(parquet_err(path))?;
        writer.close().map_err(parquet_err(path))?;
        write_atomic(path, &buf)
    }

    /// Reads a table written by [`write`](Self::write) (or any Parquet file
    /// with a string `file` column and float `dim_*` columns).
    pub fn read(path: &Path) -> Result<Self> {
        let file: File = rollcall_shared::regular::open(path).map_err(|e| Error::read(path)(e.into()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err(path))?;
        let kv: Vec<KeyValue> = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let lookup = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        let schema = builder.schema().clone();
        let file_col = schema.index_of("file").map_err(|_| shape_err(path, "no `file` column"))?;
        let mut dims: Vec<(usize, usize)> = schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.name().strip_prefix("dim_").and_then(|n| n.parse::<usize>().ok()).map(|d| (d, i)))
            .collect();
        dims.sort();
        if dims.is_empty() || dims.iter().enumerate().any(|(k, (d, _))| *d != k) {
            return Err(shape_err(path, "columns dim_0..dim_N are missing or have gaps"));
        }
        let mut t = EmbeddingTable {
            dim: dims.len(),
            recognizer: lookup("rollcall.recognizer"),
            recognizer_sha256: lookup("rollcall.recognizer_sha256"),
            ..Default::default()
        };
        let reader = builder.build().map_err(parquet_err(path))?;
        for batch in reader {
            let batch = batch.map_err(|e| shape_err(path, e.to_string()))?;
            let files = batch
                .column(file_col)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| shape_err(path, "`file` is not a string column"))?;
            let cols: Vec<&Float32Array> = dims
                .iter()
                .map(|(d, i)| {
                    batch
                        .column(*i)
                        .as_any()
                        .downcast_ref::<Float32Array>()
                        .ok_or_else(|| shape_err(path, format!("dim_{d} is not float32")))
                })
                .collect::<Result<_>>()?;
            for r in 0..batch.num_rows() {
                if files.is_null(r) {
                    return Err(shape_err(path, format!("row {r} has no file name")));
                }
                t.files.push(files.value(r).to_string());
                t.data.extend(cols.iter().map(|c| c.value(r)));
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_round_trip_keeps_rows_and_model() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        let mut t =
            EmbeddingTable::from_rows(vec![("a.png".into(), vec![0.6, 0.8, 0.0]), ("b.png".into(), vec![0.0, 0.0, 1.0])], 3).unwrap();
        t.recognizer = Some("sface".into());
        t.recognizer_sha256 = Some("ab".repeat(32));
        t.write(&p).unwrap();
        assert_eq!(EmbeddingTable::read(&p).unwrap(), t);
    }

    #[test]
    fn wrong_length_rows_are_refused() {
        assert!(EmbeddingTable::from_rows(vec![("a".into(), vec![1.0])], 2).is_err());
    }
}
