//! `embeddings.parquet`: one row per face chip.
//!
//! Columns: `file` (the chip's file name, string) then `dim_0 .. dim_{D-1}`
//! (float32), the shape pandas and polars read as a plain data frame. The
//! recognizer's name and sha256 ride along as Parquet key-value metadata so
//! that later stages (the gallery export) know which model made the vectors.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, ByteArrayType, DataType, FloatType};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

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

    /// Writes the table as Parquet, atomically: one row group, the
    /// columns in order, Snappy-compressed.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut fields = vec![Arc::new(
            Type::primitive_type_builder("file", PhysicalType::BYTE_ARRAY)
                .with_repetition(Repetition::REQUIRED)
                .with_logical_type(Some(LogicalType::String))
                .with_converted_type(ConvertedType::UTF8)
                .build()
                .map_err(parquet_err(path))?,
        )];
        for d in 0..self.dim {
            fields.push(Arc::new(
                Type::primitive_type_builder(&format!("dim_{d}"), PhysicalType::FLOAT)
                    .with_repetition(Repetition::REQUIRED)
                    .build()
                    .map_err(parquet_err(path))?,
            ));
        }
        let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build().map_err(parquet_err(path))?);
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
        let mut writer = SerializedFileWriter::new(&mut buf, schema, Arc::new(props)).map_err(parquet_err(path))?;
        let mut group = writer.next_row_group().map_err(parquet_err(path))?;
        let mut column = 0;
        while let Some(mut w) = group.next_column().map_err(parquet_err(path))? {
            if column == 0 {
                let names: Vec<ByteArray> = self.files.iter().map(|f| ByteArray::from(f.as_str())).collect();
                w.typed::<ByteArrayType>().write_batch(&names, None, None).map_err(parquet_err(path))?;
            } else {
                let d = column - 1;
                let values: Vec<f32> = (0..self.len()).map(|r| self.data[r * self.dim + d]).collect();
                w.typed::<FloatType>().write_batch(&values, None, None).map_err(parquet_err(path))?;
            }
            w.close().map_err(parquet_err(path))?;
            column += 1;
        }
        group.close().map_err(parquet_err(path))?;
        writer.close().map_err(parquet_err(path))?;
        write_atomic(path, &buf)
    }

    /// Reads a table written by [`write`](Self::write) (or any Parquet file
    /// with a required string `file` column and required float `dim_*`
    /// columns).
    pub fn read(path: &Path) -> Result<Self> {
        let file: File = rollcall_shared::regular::open(path).map_err(|e| Error::read(path)(e.into()))?;
        let reader = SerializedFileReader::new(file).map_err(parquet_err(path))?;
        let meta = reader.metadata().file_metadata();
        let kv: Vec<KeyValue> = meta.key_value_metadata().cloned().unwrap_or_default();
        let lookup = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        let columns = meta.schema_descr().columns();
        let file_col = columns.iter().position(|c| c.name() == "file").ok_or_else(|| shape_err(path, "no `file` column"))?;
        let mut dims: Vec<(usize, usize)> = columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.name().strip_prefix("dim_").and_then(|n| n.parse::<usize>().ok()).map(|d| (d, i)))
            .collect();
        dims.sort();
        if dims.is_empty() || dims.iter().enumerate().any(|(k, (d, _))| *d != k) {
            return Err(shape_err(path, "columns dim_0..dim_N are missing or have gaps"));
        }
        // Typed readers panic on a mismatch: the types are checked first.
        let required = |i: usize| columns[i].max_def_level() == 0 && columns[i].max_rep_level() == 0;
        if columns[file_col].physical_type() != PhysicalType::BYTE_ARRAY || !required(file_col) {
            return Err(shape_err(path, "`file` is not a required string column"));
        }
        if let Some((d, _)) = dims.iter().find(|(_, i)| columns[*i].physical_type() != PhysicalType::FLOAT || !required(*i)) {
            return Err(shape_err(path, format!("dim_{d} is not a required float32 column")));
        }
        let mut t = EmbeddingTable {
            dim: dims.len(),
            recognizer: lookup("rollcall.recognizer"),
            recognizer_sha256: lookup("rollcall.recognizer_sha256"),
            ..Default::default()
        };
        for g in 0..reader.num_row_groups() {
            let group = reader.get_row_group(g).map_err(parquet_err(path))?;
            let rows = usize::try_from(group.metadata().num_rows()).map_err(|_| shape_err(path, "a negative row count"))?;
            let names: Vec<ByteArray> = read_column::<ByteArrayType>(&*group, file_col, rows, path)?;
            let mut cols = Vec::with_capacity(dims.len());
            for &(_, i) in &dims {
                cols.push(read_column::<FloatType>(&*group, i, rows, path)?);
            }
            for (r, name) in names.iter().enumerate() {
                let name = name.as_utf8().map_err(|_| shape_err(path, format!("row {r}: the file name is not UTF-8")))?;
                t.files.push(name.to_string());
                t.data.extend(cols.iter().map(|c| c[r]));
            }
        }
        Ok(t)
    }
}

/// All `rows` values of column `i` (checked to be of type `T`, required).
fn read_column<T: DataType>(group: &dyn RowGroupReader, i: usize, rows: usize, path: &Path) -> Result<Vec<T::T>> {
    let reader: ColumnReader = group.get_column_reader(i).map_err(parquet_err(path))?;
    let mut typed: ColumnReaderImpl<T> = parquet::column::reader::get_typed_column_reader(reader);
    let mut values = Vec::with_capacity(rows);
    while values.len() < rows {
        let (records, _, _) = typed.read_records(rows - values.len(), None, None, &mut values).map_err(parquet_err(path))?;
        if records == 0 {
            break;
        }
    }
    if values.len() != rows {
        return Err(shape_err(path, format!("column {i} holds {} values for {rows} rows", values.len())));
    }
    Ok(values)
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
