package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;

class MetricsTest {
  @TempDir Path tmp;

  // an evaluation's averaged train loss is another estimate than a step's own loss: it must not
  // join the per-step line, or the curve jumps at every evaluation
  @Test
  void perStepAndEvaluatedLossesAreSeparateSeries() {
    Metrics m = new Metrics(tmp, 0);
    m.add(new Metrics.Row(10, 5.0, Double.NaN, 1e-3, 100));
    m.add(new Metrics.Row(20, 4.0, Double.NaN, 1e-3, 100));
    m.add(new Metrics.Row(20, 4.5, 4.7, 1e-3, Double.NaN));
    m.add(new Metrics.Row(30, 3.0, Double.NaN, 1e-3, 100));
    m.add(new Metrics.Row(40, 2.5, 2.9, 1e-3, Double.NaN));
    XYChart chart = m.chart("t", null);
    assertEquals(
        List.of("train (each logged step)", "train (evaluated)", "val (evaluated)"),
        List.copyOf(chart.getSeriesMap().keySet()));
    assertSeries(
        chart.getSeriesMap().get("train (each logged step)"),
        new double[] {10, 20, 30},
        new double[] {5.0, 4.0, 3.0});
    assertSeries(
        chart.getSeriesMap().get("train (evaluated)"),
        new double[] {20, 40},
        new double[] {4.5, 2.5});
    assertSeries(
        chart.getSeriesMap().get("val (evaluated)"),
        new double[] {20, 40},
        new double[] {4.7, 2.9});
  }

  // the task's figure is drawn over the same iterations as the losses (one x-axis), on an axis
  // of its own whose ticks read as figures, even when the figure has not moved
  @Test
  void theTasksFigureSharesTheLossesIterationsOnAnAxisOfItsOwn() {
    Metrics m = new Metrics(tmp, 0);
    m.add(new Metrics.Row(10, 5.0, Double.NaN, 1e-3, 100));
    m.add(new Metrics.Row(20, 4.5, 4.7, 1e-3, Double.NaN));
    m.add(Metrics.Row.task(20, 1e-3, 2 / 7.0));
    m.add(new Metrics.Row(40, 2.5, 2.9, 1e-3, Double.NaN));
    m.add(Metrics.Row.task(40, 1e-3, 2 / 7.0));
    XYChart chart = m.chart("t", "hellaswag acc_norm");
    XYSeries task = chart.getSeriesMap().get("hellaswag acc_norm (right axis)");
    assertSeries(task, new double[] {20, 40}, new double[] {2 / 7.0, 2 / 7.0});
    assertEquals(1, task.getYAxisGroup());
    assertEquals(0, chart.getSeriesMap().get("val (evaluated)").getYAxisGroup());
    assertEquals(
        "0.286",
        new java.text.DecimalFormat(
                chart.getStyler().getYAxisGroupDecimalPatternMap().get(1),
                java.text.DecimalFormatSymbols.getInstance(java.util.Locale.ROOT))
            .format(2 / 7.0));
    m.plot("t", "hellaswag acc_norm"); // and it draws
    assertTrue(java.nio.file.Files.exists(tmp.resolve(Metrics.PLOT)));
  }

  // a family model's title is long: the picture widens to hold it, its legend under the plot
  @Test
  void thePictureIsAsWideAsItsTitle() {
    Metrics m = new Metrics(tmp, 0);
    m.add(new Metrics.Row(10, 5.0, Double.NaN, 1e-3, 100));
    String title =
        "/home/someone/runs/llama: 4 layers, 4 heads, 128 wide (norm rmsnorm, mlp swiglu, position"
            + " rope, n_kv_head 2, bias false, moe_experts 4, moe_top_k 1), 795,904 parameters,"
            + " from scratch";
    XYChart chart = m.chart(title, null);
    java.awt.Graphics2D g =
        new java.awt.image.BufferedImage(1, 1, java.awt.image.BufferedImage.TYPE_INT_RGB)
            .createGraphics();
    int needed = g.getFontMetrics(chart.getStyler().getChartTitleFont()).stringWidth(title);
    assertTrue(chart.getWidth() > needed, chart.getWidth() + " px for a title of " + needed);
    assertEquals(900, m.chart("t", null).getWidth(), "a short title keeps the usual width");
  }

  private static void assertSeries(XYSeries s, double[] x, double[] y) {
    assertArrayEquals(x, s.getXData(), 0);
    assertArrayEquals(y, s.getYData(), 0);
  }
}
