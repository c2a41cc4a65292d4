//! The arithmetic behind the stages: KMeans, silhouettes, average-linkage
//! trees, PCA, the split into people and outliers, clustering-quality
//! metrics, and learning and calibrating the classifiers.

pub(crate) mod calibration;
pub(crate) mod kmeans;
pub(crate) mod learn;
pub(crate) mod linkage;
pub(crate) mod metrics;
pub(crate) mod pca;
pub(crate) mod population;
pub(crate) mod silhouette;
pub(crate) mod suspects;
