//! The retention calculator behind the business-impact section: what better retention from
//! recommendations is worth.

/// The calculator's inputs, as a visitor edits them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImpactInputs {
    /// Active customers today.
    pub customers: f64,
    /// Annual revenue per customer.
    pub revenue_per_customer: f64,
    /// Share of customers retained each year, 0 to 1.
    pub retention: f64,
    /// Extra customers kept thanks to recommendations, as a share of the retained base, 0 to 1.
    pub uplift: f64,
}

impl Default for ImpactInputs {
    /// The figures of the notebook Affinity replaces.
    fn default() -> Self {
        Self {
            customers: 50_000.0,
            revenue_per_customer: 2_000.0,
            retention: 0.70,
            uplift: 0.12,
        }
    }
}

/// What the calculator shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impact {
    /// Customers retained without the uplift.
    pub retained: f64,
    /// Additional customers retained thanks to recommendations.
    pub additional_customers: f64,
    /// Additional annual revenue from them.
    pub additional_revenue: f64,
}

/// Why inputs were refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ImpactError {
    /// A count or amount below zero or not a number.
    #[error("{0} must be a number of at least 0")]
    Negative(&'static str),
    /// A share outside 0-100%.
    #[error("{0} must be between 0% and 100%")]
    NotAShare(&'static str),
}

impl ImpactInputs {
    /// Computes the impact, refusing inputs that make no sense.
    pub fn impact(&self) -> Result<Impact, ImpactError> {
        for (value, name) in [
            (self.customers, "Active customers"),
            (self.revenue_per_customer, "Revenue per customer"),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ImpactError::Negative(name));
            }
        }
        for (value, name) in [(self.retention, "Retention"), (self.uplift, "Uplift")] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ImpactError::NotAShare(name));
            }
        }
        let retained = self.customers * self.retention;
        let additional_customers = retained * self.uplift;
        Ok(Impact {
            retained,
            additional_customers,
            additional_revenue: additional_customers * self.revenue_per_customer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notebooks_figures_give_4200_customers_and_8_4_million() {
        let impact = ImpactInputs::default().impact().unwrap();
        assert!((impact.retained - 35_000.0).abs() < 1e-6);
        assert!((impact.additional_customers - 4_200.0).abs() < 1e-6);
        assert!((impact.additional_revenue - 8_400_000.0).abs() < 1e-3);
    }

    #[test]
    fn nonsense_inputs_are_refused_by_name() {
        let bad = ImpactInputs {
            retention: 1.5,
            ..Default::default()
        };
        assert_eq!(bad.impact(), Err(ImpactError::NotAShare("Retention")));
        let bad = ImpactInputs {
            customers: -1.0,
            ..Default::default()
        };
        assert_eq!(bad.impact(), Err(ImpactError::Negative("Active customers")));
        let bad = ImpactInputs {
            revenue_per_customer: f64::NAN,
            ..Default::default()
        };
        assert!(bad.impact().is_err());
    }
}
