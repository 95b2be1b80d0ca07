package dev.gpt2j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.types.family.TType;

/**
 * The one place that creates the model's variables: resource variables carrying OpenAI's names and
 * shapes, OpenAI's initialisers, and the {@link Params} tree of their values.
 */
public final class ModelVariables {

  /** How OpenAI's model.py initialises a variable. */
  public sealed interface Init {
    record Normal(double stddev) implements Init {}

    record Constant(float value) implements Init {}
  }

  /**
   * One checkpoint tensor as the model lays it out, before any graph exists. {@code matrix} marks
   * the weight matrices and embeddings: they take the model's dtype and get weight decay; biases
   * and norm gains do neither.
   */
  public record Spec(String name, long[] shape, Init init, boolean matrix) {
    public long size() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }

    /** wte or wpe: the tensors a fine-tune may leave frozen. */
    public boolean embedding() {
      return name.equals(WTE) || name.equals(WPE);
    }

    /** Whether this tensor belongs to block {@code i} ({@code model/h<i>/...}). */
    public boolean inBlock(int i) {
      return name.startsWith("model/h" + i + "/");
    }
  }

  public static final String WTE = "model/wte";
  public static final String WPE = "model/wpe";

  /** A tensor of the graph: its {@link Spec}, its resource handle and a read of its value. */
  public record Variable(
      Spec spec, Operand<? extends TType> handle, Operand<? extends TNumber> value) {

    public String name() {
      return spec.name();
    }

    public long[] shape() {
      return spec.shape();
    }

    public Init init() {
      return spec.init();
    }

    /** Matrices and embeddings get weight decay (not biases, not norm gains). */
    public boolean decay() {
      return spec.matrix();
    }

    public long size() {
      return spec.size();
    }

    /** The value of a float32 variable (every one that training creates). */
    @SuppressWarnings("unchecked")
    public Operand<TFloat32> float32() {
      if (value.type() != TFloat32.class) {
        throw new IllegalStateException(name() + " is not float32");
      }
      return (Operand<TFloat32>) value;
    }
  }

  private final Ops tf;
  private final Function<Spec, Variable> make;
  private final Architecture arch;
  private final List<Variable> variables = new ArrayList<>();
  private final Params params;

  // walks the model's layout once, making each tensor with make: a graph's variable, or (describe)
  // only its spec
  private ModelVariables(Ops tf, HParams hp, Function<Spec, Variable> make) {
    this.tf = tf;
    this.make = make;
    this.arch = hp.arch();
    int nx = hp.nEmbd();
    Operand<? extends TNumber> wte = matrix(WTE, new Init.Normal(0.02), hp.nVocab(), nx);
    Operand<? extends TNumber> wpe =
        arch.position() == Architecture.Position.LEARNED
            ? matrix(WPE, new Init.Normal(0.01), hp.nCtx(), nx)
            : null;
    int qkv = (hp.nHead() + 2 * hp.nKvHead()) * hp.headSize();
    List<Params.Block> blocks = new ArrayList<>();
    for (int i = 0; i < hp.nLayer(); i++) {
      String s = "model/h" + i + "/";
      blocks.add(
          new Params.Block(
              norm(s + "ln_1", nx),
              new Params.Attn(
                  linear(s + "attn/c_attn", 1, nx, qkv), linear(s + "attn/c_proj", 1, nx, nx)),
              norm(s + "ln_2", nx),
              mlp(s + "mlp/", nx, hp.mlpHidden())));
    }
    this.params = new Params(wte, wpe, List.copyOf(blocks), norm("model/ln_f", nx));
  }

  // c_fc, c_gate (SwiGLU), c_proj, then the router of a mixture, whose experts are stacked first
  private Params.Mlp mlp(String scope, int nx, int hidden) {
    int experts = Math.max(1, arch.moeExperts());
    Params.Linear fc = linear(scope + "c_fc", experts, nx, hidden);
    Params.Linear gate =
        arch.mlp() == Architecture.Mlp.SWIGLU
            ? linear(scope + "c_gate", experts, nx, hidden)
            : null;
    Params.Linear proj = linear(scope + "c_proj", experts, hidden, nx);
    Operand<? extends TNumber> router =
        arch.moe()
            ? matrix(scope + "router/w", new Init.Normal(0.02), 1, nx, arch.moeExperts())
            : null;
    return new Params.Mlp(fc, gate, proj, router);
  }

  /** Creates every variable of a float32 model of shape {@code hp} in {@code tf}'s graph. */
  public static ModelVariables create(Ops tf, HParams hp) {
    return create(tf, hp, DType.FLOAT32);
  }

  /** The same with the weight matrices in {@code dtype}. */
  public static ModelVariables create(Ops tf, HParams hp, DType dtype) {
    return new ModelVariables(
        tf, hp, spec -> create(tf, spec, spec.matrix() ? dtype.type : TFloat32.class));
  }

  /**
   * The tensors a model of shape {@code hp} has, in checkpoint order, without building anything:
   * what the memory plan counts, from the same walk that creates the variables.
   */
  public static List<Spec> describe(HParams hp) {
    return new ModelVariables(null, hp, spec -> new Variable(spec, null, null))
        .variables.stream().map(Variable::spec).toList();
  }

  /** The variable named {@code name} (OpenAI's name, e.g. {@code model/wte}). */
  public Variable variable(String name) {
    return variables.stream()
        .filter(v -> v.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no variable " + name));
  }

  public Params params() {
    return params;
  }

  /** In checkpoint order of creation; names are OpenAI's. */
  public List<Variable> all() {
    return Collections.unmodifiableList(variables);
  }

  public long parameterCount() {
    return variables.stream().mapToLong(Variable::size).sum();
  }

  /**
   * One op per variable assigning OpenAI's initial value. The random draws are stateless: variable
   * {@code i} uses the seed pair (seed, i), so the same seed gives the same model. Run them one at
   * a time so that only one variable's temporaries exist beside the weights (1558M needs this).
   */
  public List<Op> initializers(Placeholder<TInt64> seed) {
    Ops init = tf.withSubScope("init");
    List<Op> assigns = new ArrayList<>();
    for (int i = 0; i < variables.size(); i++) {
      Variable v = variables.get(i);
      if (v.init() instanceof Init.Normal n) {
        Operand<TInt64> pair = init.stack(List.of(seed, init.constant((long) i)));
        Operand<TFloat32> value =
            init.math.mul(
                init.random.statelessRandomNormal(init.constant(v.shape()), pair),
                init.constant((float) n.stddev()));
        assigns.add(init.assignVariableOp(v.handle(), init.dtypes.cast(value, v.value().type())));
      } else {
        // a constant fill is folded and held twice (see fill), but only norms and biases have one
        assigns.add(fill(init, v, init.constant(((Init.Constant) v.init()).value())));
      }
    }
    return assigns;
  }

  /**
   * An op setting every element of {@code v} to the scalar {@code value}, in a buffer of the
   * variable's own. For a tensor that training updates in place, {@code value} must be fed by the
   * run: Grappler folds a fill of a constant (or of a PlaceholderWithDefault the run does not feed)
   * into a Const, which AssignVariableOp shares with the variable; the session keeps that Const
   * while it caches the run, and the first in-place update copies, so the variable's memory is held
   * twice (docs/benchmarks.md, "The zeroed optimiser state was held twice").
   */
  public static Op fill(Ops tf, Variable v, Operand<TFloat32> value) {
    // a scalar's shape would be an empty constant, and TF's BFC allocator (the CLI's, once a
    // session exists) gives an empty tensor no data pointer, which TF Java cannot read
    boolean isScalar = v.shape().length == 0;
    return tf.assignVariableOp(
        v.handle(), isScalar ? value : tf.fill(tf.constant(v.shape()), value));
  }

  // a bias or a norm's gain: float32, no weight decay
  @SuppressWarnings("unchecked")
  private Operand<TFloat32> variable(String name, Init init, long... shape) {
    return (Operand<TFloat32>) add(new Spec(name, shape, init, false));
  }

  // a weight matrix or embedding: weight decay, and this model's dtype
  private Operand<? extends TNumber> matrix(String name, Init init, long... shape) {
    return add(new Spec(name, shape, init, true));
  }

  private Operand<? extends TNumber> add(Spec spec) {
    Variable v = make.apply(spec);
    variables.add(v);
    return v.value();
  }

  /**
   * A float32 resource variable named {@code name} (its TF resource name too, so two graphs never
   * share it by accident), with a read of its value.
   */
  public static Variable create(Ops tf, String name, Init init, boolean decay, long... shape) {
    return create(tf, new Spec(name, shape, init, decay), TFloat32.class);
  }

  private static Variable create(Ops tf, Spec spec, Class<? extends TNumber> type) {
    String name = spec.name();
    Ops scope = tf;
    String[] parts = name.split("/");
    for (int i = 0; i < parts.length - 1; i++) {
      scope = scope.withSubScope(parts[i]);
    }
    Operand<? extends TType> handle =
        scope
            .withName(parts[parts.length - 1])
            .varHandleOp(type, Shape.of(spec.shape()), VarHandleOp.sharedName(name));
    Operand<? extends TNumber> value =
        scope.withSubScope(parts[parts.length - 1]).withName("read").readVariableOp(handle, type);
    return new Variable(spec, handle, value);
  }

  // a bias only with biases, and never beside an RMS norm's gain
  private Params.Norm norm(String scope, int nx) {
    boolean bias = arch.bias() && arch.norm() == Architecture.Norm.LAYERNORM;
    return new Params.Norm(
        variable(scope + "/g", new Init.Constant(1f), nx),
        bias ? variable(scope + "/b", new Init.Constant(0f), nx) : null);
  }

  // w [stack, nx, nf]; b [nf] for one layer, [stack, nf] for stacked experts
  private Params.Linear linear(String scope, int stack, int nx, int nf) {
    long[] biasShape = arch.moe() && stack > 1 ? new long[] {stack, nf} : new long[] {nf};
    return new Params.Linear(
        matrix(scope + "/w", new Init.Normal(0.02), stack, nx, nf),
        arch.bias() ? variable(scope + "/b", new Init.Constant(0f), biasShape) : null);
  }
}
