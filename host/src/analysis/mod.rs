//! The arithmetic behind the stages: KMeans, silhouettes, average-linkage
//! trees, PCA, the split into people and outliers, clustering-quality
//! metrics, and learning and calibrating the classifiers.

pub mod calibration;
pub mod kmeans;
pub mod learn;
pub mod linkage;
pub mod metrics;
pub mod pca;
pub mod population;
pub mod silhouette;
pub mod suspects;
