//! The linear algebra behind choosing k and clustering: KMeans, silhouettes,
//! average-linkage trees, PCA, and clustering-quality metrics.

pub mod kmeans;
pub mod linkage;
pub mod metrics;
pub mod pca;
pub mod silhouette;
