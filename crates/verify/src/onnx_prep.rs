//! Rewrites of the shipped ONNX graphs, applied in memory after the file's digest is
//! checked and before tract sees the graph. Each one keeps the maths and changes only
//! what tract can run or how fast:
//!
//! - **Constant DequantizeLinear folding.** The OpenCV Zoo files are block-quantized
//!   (int8 weights with one scale per block), which tract 0.23 refuses. Weights are
//!   constants, so each such node is replaced by the float32 tensor it would compute.
//! - **PRelu expansion.** `PRelu(x, a)` becomes `Relu(x) + a * Min(x, 0)`: identical
//!   values, but tract runs the expanded form about twice as fast on SFace.
//! - **Shape facts removal.** YuNet's graph records 640x640 in its input, outputs and
//!   222 intermediate shapes although its operators are size-agnostic; dropping them lets
//!   the detector run at 320x320 (or any multiple of 32).
//!
//! Tensors stored outside the file (`external_data`) are refused: a verified model must be
//! the whole model.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{
    tensor_proto::DataLocation, tensor_proto::DataType, tensor_shape_proto::dimension, type_proto,
    GraphProto, ModelProto, NodeProto, TensorProto,
};

/// Why a graph could not be prepared.
pub type PrepError = String;

/// Replaces every DequantizeLinear node whose inputs are all initializers with a float32
/// initializer. Returns the number of nodes folded.
pub fn fold_constant_dequantize(graph: &mut GraphProto) -> Result<usize, PrepError> {
    refuse_external_data(graph)?;
    let index: HashMap<String, usize> = graph
        .initializer
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut kept = Vec::with_capacity(graph.node.len());
    let mut folded = Vec::new();
    for node in std::mem::take(&mut graph.node) {
        let is_dq = node.op_type == "DequantizeLinear"
            && (node.domain.is_empty() || node.domain == "ai.onnx");
        let constant_inputs = node
            .input
            .iter()
            .filter(|name| !name.is_empty())
            .all(|name| index.contains_key(name));
        if !(is_dq && constant_inputs && node.output.len() == 1) {
            kept.push(node);
            continue;
        }
        let get = |slot: usize| -> Option<&TensorProto> {
            node.input
                .get(slot)
                .filter(|n| !n.is_empty())
                .and_then(|n| index.get(n))
                .map(|&i| &graph.initializer[i])
        };
        let x = get(0).ok_or_else(|| format!("{}: no input", node.name))?;
        let scale = get(1).ok_or_else(|| format!("{}: no scale", node.name))?;
        let axis = int_attribute(&node, "axis").unwrap_or(1);
        let block_size = int_attribute(&node, "block_size").unwrap_or(0);
        let mut tensor = dequantize(x, scale, get(2), axis, block_size)
            .map_err(|e| format!("{}: {e}", node.name))?;
        tensor.name = node.output[0].clone();
        folded.push(tensor);
    }
    let count = folded.len();
    graph.node = kept;
    graph.initializer.extend(folded);
    drop_unused(graph);
    Ok(count)
}

/// Expands every `PRelu(x, slope)` into `Relu(x) + slope * Min(x, 0)`.
pub fn expand_prelu(graph: &mut GraphProto) -> usize {
    const ZERO: &str = "reclaim_prep_zero";
    let mut out = Vec::with_capacity(graph.node.len());
    let mut count = 0;
    for node in std::mem::take(&mut graph.node) {
        if node.op_type != "PRelu" || node.input.len() != 2 || node.output.len() != 1 {
            out.push(node);
            continue;
        }
        count += 1;
        let (x, slope, y) = (&node.input[0], &node.input[1], &node.output[0]);
        let relu = format!("{y}_reclaim_relu");
        let neg = format!("{y}_reclaim_neg");
        let scaled = format!("{y}_reclaim_scaled");
        out.push(simple_node("Relu", &[x], &relu));
        out.push(simple_node("Min", &[x, ZERO], &neg));
        out.push(simple_node("Mul", &[slope, &neg], &scaled));
        out.push(simple_node("Add", &[&relu, &scaled], y));
    }
    if count > 0 {
        graph.initializer.push(TensorProto {
            name: ZERO.into(),
            data_type: DataType::Float as i32,
            float_data: vec![0.0],
            ..Default::default()
        });
    }
    graph.node = out;
    count
}

/// Forgets every recorded intermediate and output shape, and makes the spatial dimensions
/// of 4-D inputs symbolic, so the caller chooses the input size.
pub fn free_spatial_shapes(graph: &mut GraphProto) {
    graph.value_info.clear();
    for output in &mut graph.output {
        if let Some(type_proto::Value::TensorType(t)) =
            output.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.shape = None;
        }
    }
    for input in &mut graph.input {
        if let Some(type_proto::Value::TensorType(t)) =
            input.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            if let Some(shape) = t.shape.as_mut() {
                if shape.dim.len() == 4 {
                    shape.dim[2].value = Some(dimension::Value::DimParam("height".into()));
                    shape.dim[3].value = Some(dimension::Value::DimParam("width".into()));
                }
            }
        }
    }
}

/// Removes initializers no node reads and graph inputs no node reads (old exporters list
/// every weight as an input; once folded they would become dangling sources).
fn drop_unused(graph: &mut GraphProto) {
    let used: HashSet<String> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .chain(graph.output.iter().map(|o| o.name.clone()))
        .collect();
    graph.initializer.retain(|t| used.contains(&t.name));
    graph.input.retain(|i| used.contains(&i.name));
}

fn refuse_external_data(graph: &GraphProto) -> Result<(), PrepError> {
    let external = DataLocation::External as i32;
    match graph
        .initializer
        .iter()
        .find(|t| t.data_location == Some(external) || !t.external_data.is_empty())
    {
        Some(t) => Err(format!("tensor `{}` refers to external data", t.name)),
        None => Ok(()),
    }
}

fn simple_node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn int_attribute(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn shape_of(t: &TensorProto) -> Result<Vec<usize>, PrepError> {
    t.dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension in `{}`", t.name)))
        .collect()
}

fn element_count(shape: &[usize]) -> Result<usize, PrepError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| "tensor too large".to_string())
}

/// Integer contents of an int8 / uint8 / int32 tensor, widened to i32.
fn integer_values(t: &TensorProto, len: usize) -> Result<Vec<i32>, PrepError> {
    let values: Vec<i32> = match DataType::try_from(t.data_type) {
        Ok(DataType::Int8) if !t.raw_data.is_empty() => {
            t.raw_data.iter().map(|&b| i32::from(b as i8)).collect()
        }
        Ok(DataType::Uint8) if !t.raw_data.is_empty() => {
            t.raw_data.iter().map(|&b| i32::from(b)).collect()
        }
        Ok(DataType::Int32) if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Ok(DataType::Int8 | DataType::Uint8 | DataType::Int32) => t.int32_data.clone(),
        _ => {
            return Err(format!(
                "`{}` has unsupported quantized type {}",
                t.name, t.data_type
            ))
        }
    };
    of_length(t, values, len)
}

fn float_values(t: &TensorProto, len: usize) -> Result<Vec<f32>, PrepError> {
    if t.data_type != DataType::Float as i32 {
        return Err(format!(
            "`{}` is not float32 (type {})",
            t.name, t.data_type
        ));
    }
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        t.float_data.clone()
    };
    of_length(t, values, len)
}

/// `values` read from `t`, if there are as many as its shape says.
fn of_length<T>(t: &TensorProto, values: Vec<T>, len: usize) -> Result<Vec<T>, PrepError> {
    if values.len() != len {
        return Err(format!(
            "`{}` holds {} values, its shape says {len}",
            t.name,
            values.len()
        ));
    }
    Ok(values)
}

/// ONNX DequantizeLinear (opset 21): per tensor, per axis or per block along `axis`.
fn dequantize(
    x: &TensorProto,
    scale: &TensorProto,
    zero_point: Option<&TensorProto>,
    axis: i64,
    block_size: i64,
) -> Result<TensorProto, PrepError> {
    let shape = shape_of(x)?;
    let len = element_count(&shape)?;
    let values = integer_values(x, len)?;
    let scale_shape = shape_of(scale)?;
    let scale_len = element_count(&scale_shape)?;
    let scales = float_values(scale, scale_len)?;
    let zeros = match zero_point {
        Some(z) => integer_values(z, scale_len)?,
        None => vec![0; scale_len],
    };

    let rank = shape.len() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    let per_tensor = scale_len == 1;
    if !per_tensor && !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    let axis = axis.max(0) as usize;
    let (outer, along, inner) = if per_tensor {
        (1, len, 1)
    } else {
        (
            element_count(&shape[..axis])?,
            shape[axis],
            element_count(&shape[axis + 1..])?,
        )
    };
    // Which scale (and zero point) each element uses.
    let scale_index: Box<dyn Fn(usize, usize, usize) -> usize> = if per_tensor {
        Box::new(|_, _, _| 0)
    } else if block_size > 0 {
        let block = block_size as usize;
        let groups = along.div_ceil(block);
        if outer * groups * inner != scale_len {
            return Err(format!(
                "blocked scale has {scale_len} values, expected {} for shape {shape:?}",
                outer * groups * inner
            ));
        }
        Box::new(move |o, k, n| (o * groups + k / block) * inner + n)
    } else {
        if along != scale_len {
            return Err(format!(
                "per-axis scale has {scale_len} values, axis {axis} of {shape:?} has {along}"
            ));
        }
        Box::new(|_, k, _| k)
    };
    let mut out = Vec::with_capacity(len);
    for o in 0..outer {
        for k in 0..along {
            for n in 0..inner {
                let i = (o * along + k) * inner + n;
                let s = scale_index(o, k, n);
                out.push((values[i] - zeros[s]) as f32 * scales[s]);
            }
        }
    }
    Ok(TensorProto {
        dims: x.dims.clone(),
        data_type: DataType::Float as i32,
        float_data: out,
        ..Default::default()
    })
}

/// Keeps only the classes of `alphabet` (plus the CTC blank, class 0) in a CTC
/// recognizer's final classifier: `Softmax(Add(MatMul(x, W), b))` at the graph's output,
/// with `W` of shape `[hidden, classes]`. Class `k > 0` is the character at line `k - 1` of
/// the model's metadata key `character`. The softmax is then over the alphabet alone, which
/// is both the restriction a reader of one alphabet wants and less work.
pub fn restrict_classifier(model: &mut ModelProto, alphabet: &str) -> Result<(), PrepError> {
    let dictionary = model
        .metadata_props
        .iter()
        .find(|p| p.key == "character")
        .map(|p| p.value.split('\n').collect::<Vec<_>>())
        .ok_or("no `character` metadata: not a PaddleOCR recognizer")?;
    let mut keep = vec![0usize];
    for c in alphabet.chars() {
        let mut buf = [0u8; 4];
        let wanted: &str = c.encode_utf8(&mut buf);
        let index = dictionary
            .iter()
            .position(|d| *d == wanted)
            // PaddleOCR adds the space as the class after the dictionary's last
            // (`use_space_char`) without writing it in the metadata; the classifier's
            // width, checked below, says whether this model has it.
            .or((c == ' ').then_some(dictionary.len()))
            .ok_or_else(|| format!("the recognizer cannot read `{c}`"))?;
        keep.push(index + 1);
    }
    let graph = model.graph.as_mut().ok_or("no graph")?;
    let output = graph
        .output
        .first()
        .map(|o| o.name.clone())
        .ok_or("no output")?;
    let producer = |g: &GraphProto, name: &str| {
        g.node
            .iter()
            .position(|n| n.output.iter().any(|o| o == name))
    };
    let softmax = producer(graph, &output)
        .filter(|&i| graph.node[i].op_type == "Softmax")
        .ok_or("the output is not a Softmax")?;
    let add = graph.node[softmax]
        .input
        .first()
        .and_then(|i| producer(graph, i))
        .filter(|&i| graph.node[i].op_type == "Add")
        .ok_or("no Add before the Softmax")?;
    let (matmul_out, bias) = match graph.node[add].input.as_slice() {
        [a, b] => (a.clone(), b.clone()),
        _ => return Err("the Add is not binary".into()),
    };
    let matmul = producer(graph, &matmul_out)
        .filter(|&i| graph.node[i].op_type == "MatMul")
        .ok_or("no MatMul before the Add")?;
    let weights = graph.node[matmul]
        .input
        .get(1)
        .cloned()
        .ok_or("the MatMul has no weights")?;

    let w = constant_mut(graph, &weights).ok_or("the classifier weights are not constant")?;
    let (hidden, classes) = match w.dims.as_slice() {
        [h, c] => (
            usize::try_from(*h).map_err(|_| "bad dims")?,
            usize::try_from(*c).map_err(|_| "bad dims")?,
        ),
        _ => return Err("the classifier weights are not 2-D".into()),
    };
    if keep.iter().any(|&k| k >= classes) {
        return Err("the dictionary is longer than the classifier".into());
    }
    let values = float_values(w, hidden * classes)?;
    let mut kept = Vec::with_capacity(hidden * keep.len());
    for row in values.chunks_exact(classes) {
        kept.extend(keep.iter().map(|&k| row[k]));
    }
    *w = TensorProto {
        name: w.name.clone(),
        dims: vec![hidden as i64, keep.len() as i64],
        data_type: DataType::Float as i32,
        float_data: kept,
        ..Default::default()
    };
    let b = constant_mut(graph, &bias).ok_or("the classifier bias is not constant")?;
    let values = float_values(b, classes)?;
    *b = TensorProto {
        name: b.name.clone(),
        dims: vec![keep.len() as i64],
        data_type: DataType::Float as i32,
        float_data: keep.iter().map(|&k| values[k]).collect(),
        ..Default::default()
    };
    for out in &mut graph.output {
        if let Some(type_proto::Value::TensorType(t)) =
            out.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.shape = None;
        }
    }
    graph.value_info.clear();
    Ok(())
}

/// The constant tensor named `name`: an initializer, or the value of a Constant node.
fn constant_mut<'g>(graph: &'g mut GraphProto, name: &str) -> Option<&'g mut TensorProto> {
    if let Some(i) = graph.initializer.iter().position(|t| t.name == name) {
        return graph.initializer.get_mut(i);
    }
    let node = graph
        .node
        .iter_mut()
        .find(|n| n.op_type == "Constant" && n.output.iter().any(|o| o == name))?;
    node.attribute
        .iter_mut()
        .find(|a| a.name == "value")
        .and_then(|a| a.t.as_mut())
}

/// The model's output names, in the order tract will return them.
pub fn output_names(model: &ModelProto) -> Vec<String> {
    model
        .graph
        .as_ref()
        .map(|g| g.output.iter().map(|o| o.name.clone()).collect())
        .unwrap_or_default()
}

/// Encodes a prepared model, for running the very same graph elsewhere (the benchmark
/// compares tract with onnxruntime on it).
pub fn encode(model: &ModelProto) -> Vec<u8> {
    use prost::Message;
    model.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb;

    fn int8(name: &str, dims: &[i64], v: &[i8]) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Int8 as i32,
            raw_data: v.iter().map(|&b| b as u8).collect(),
            ..Default::default()
        }
    }
    fn f32s(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            float_data: v.to_vec(),
            ..Default::default()
        }
    }
    fn dq_graph(
        x: TensorProto,
        s: TensorProto,
        z: TensorProto,
        attrs: &[(&str, i64)],
    ) -> GraphProto {
        GraphProto {
            node: vec![NodeProto {
                op_type: "DequantizeLinear".into(),
                input: vec![x.name.clone(), s.name.clone(), z.name.clone()],
                output: vec!["y".into()],
                attribute: attrs
                    .iter()
                    .map(|(n, i)| pb::AttributeProto {
                        name: n.to_string(),
                        i: *i,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            initializer: vec![x, s, z],
            output: vec![pb::ValueInfoProto {
                name: "y".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn folds_blocked_dequantize_along_axis_1() {
        // 2 x 4 weights, blocks of 2 along axis 1: scales are 2 x 2.
        let x = int8("x", &[2, 4], &[1, 2, 3, 4, -1, -2, -3, -4]);
        let s = f32s("s", &[2, 2], &[0.5, 2.0, 1.0, 10.0]);
        let z = int8("z", &[2, 2], &[0, 1, 0, -1]);
        let mut g = dq_graph(x, s, z, &[("axis", 1), ("block_size", 2)]);
        assert_eq!(fold_constant_dequantize(&mut g).unwrap(), 1);
        assert!(g.node.is_empty());
        assert_eq!(g.initializer.len(), 1, "quantized inputs are dropped");
        let y = &g.initializer[0];
        assert_eq!(y.name, "y");
        assert_eq!(
            y.float_data,
            vec![0.5, 1.0, 4.0, 6.0, -1.0, -2.0, -20.0, -30.0]
        );
    }

    #[test]
    fn folds_blocked_dequantize_with_ragged_last_block() {
        let x = int8("x", &[3], &[1, 2, 3]);
        let s = f32s("s", &[2], &[1.0, 3.0]);
        let z = int8("z", &[2], &[0, 0]);
        let mut g = dq_graph(x, s, z, &[("axis", 0), ("block_size", 2)]);
        fold_constant_dequantize(&mut g).unwrap();
        assert_eq!(g.initializer[0].float_data, vec![1.0, 2.0, 9.0]);
    }

    #[test]
    fn folds_per_axis_and_per_tensor() {
        let x = int8("x", &[2, 2], &[1, 2, 3, 4]);
        let s = f32s("s", &[2], &[1.0, 10.0]);
        let z = int8("z", &[2], &[0, 0]);
        let mut g = dq_graph(x, s, z, &[("axis", 0)]);
        fold_constant_dequantize(&mut g).unwrap();
        assert_eq!(g.initializer[0].float_data, vec![1.0, 2.0, 30.0, 40.0]);

        let x = int8("x", &[2], &[4, 6]);
        let s = f32s("s", &[], &[0.5]);
        let z = int8("z", &[], &[2]);
        let mut g = dq_graph(x, s, z, &[]);
        fold_constant_dequantize(&mut g).unwrap();
        assert_eq!(g.initializer[0].float_data, vec![1.0, 2.0]);
    }

    #[test]
    fn refuses_inconsistent_quantization() {
        let x = int8("x", &[2, 4], &[0; 8]);
        let s = f32s("s", &[3], &[1.0; 3]);
        let z = int8("z", &[3], &[0; 3]);
        let mut g = dq_graph(x, s, z, &[("axis", 1), ("block_size", 2)]);
        assert!(fold_constant_dequantize(&mut g).is_err());

        // Data shorter than the shape claims.
        let x = int8("x", &[2, 4], &[0; 5]);
        let s = f32s("s", &[], &[1.0]);
        let z = int8("z", &[], &[0]);
        let mut g = dq_graph(x, s, z, &[]);
        assert!(fold_constant_dequantize(&mut g).is_err());
    }

    #[test]
    fn refuses_external_data() {
        let mut x = int8("x", &[1], &[1]);
        x.data_location = Some(DataLocation::External as i32);
        let mut g = dq_graph(x, f32s("s", &[], &[1.0]), int8("z", &[], &[0]), &[]);
        assert!(fold_constant_dequantize(&mut g)
            .unwrap_err()
            .contains("external"));
    }

    #[test]
    fn prelu_becomes_relu_plus_scaled_min() {
        let mut g = GraphProto {
            node: vec![simple_node("PRelu", &["x", "a"], "y")],
            ..Default::default()
        };
        assert_eq!(expand_prelu(&mut g), 1);
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Relu", "Min", "Mul", "Add"]);
        assert_eq!(g.node[3].output, ["y"]);
        assert!(g.initializer.iter().any(|t| t.float_data == [0.0]));
    }
}
